import HTTPServer

extension Routes {
    /// Finance routes (issue 4): campaign statistics, reconciliation report.
    static func installFinance(on router: Router, api: API) {}
}
