import CouponCore
import CouponService
import Foundation
import HTTPServer
import Testing

import ServiceTestSupport

extension ClaimPathTests {
    /// Input that could be read two ways is refused, and refusing it changes nothing (issue 8, defect 8).
    @Suite struct CanonicalInput {
        @Test func nonCanonicalIdsNulStringsAndRepeatedParametersAreRefused() throws {
            let node = try TestNode.start()
            defer { node.stop() }
            let campaign = try node.createCampaign(stock: 10, perUserLimit: 1)
            let before = try ClaimHTTP.snapshot(node, campaign)

            // Ids only in canonical decimal: `+6`, `06`, `6.0` name no campaign.
            for spelling in ["+\(campaign)", "0\(campaign)", "\(campaign).0", "%2B\(campaign)", "\(campaign)%20"] {
                let response = try node.request(
                    "POST", "/v1/campaigns/\(spelling)/claims", as: .issue, body: ClaimHTTP.claimBody("ann", "r-\(spelling)"))
                #expect(response.status == 404, "\(spelling)")
                #expect(TestNode.code(of: response) == "not_found", "\(spelling)")
                let read = try node.request("GET", "/v1/campaigns/\(spelling)", as: .admin)
                #expect(read.status == 404, "\(spelling)")
            }

            // A NUL inside a JSON string is refused, not stored truncated.
            for body in [#"{"user_id":"a\u0000b","request_id":"r-nul"}"#, #"{"user_id":"ann","request_id":"r\u0000"}"#] {
                let response = try node.request("POST", "/v1/campaigns/\(campaign)/claims", as: .issue, body: body)
                #expect(response.status == 400)
                #expect(TestNode.code(of: response) == "invalid_json" || TestNode.code(of: response) == "invalid_request")
            }
            let template = try node.request(
                "POST", "/v1/templates", as: .admin, body: TestNode.amountOffTemplate.replacingOccurrences(of: #""name":""#, with: #""name":"x\u0000"#))
            #expect(template.status == 400)

            // A repeated query parameter is refused rather than one value silently winning.
            let wallet = try node.request("GET", "/v1/users/ann/coupons?order_amount=100&order_amount=5000", as: .checkout)
            #expect(wallet.status == 400)
            #expect(String(decoding: wallet.body, as: UTF8.self).contains("order_amount"))
            let report = try node.request("GET", "/v1/reports/reconciliation?from=2026-01-01&from=2026-01-02&to=2026-01-03", as: .finance)
            #expect(report.status == 400)
            let stats = try node.request("GET", "/v1/campaigns/+\(campaign)/stats", as: .finance)
            #expect(stats.status == 404)

            #expect(try ClaimHTTP.snapshot(node, campaign) == before)
            // The canonical spelling still works.
            #expect(try node.request("POST", "/v1/campaigns/\(campaign)/claims", as: .issue, body: ClaimHTTP.claimBody("ann", "r-ok")).status == 201)
        }
    }
}
