import CouponCore
import HTTPServer

extension RouteParameters {
    /// The `{name}` segment as a resource id, only in canonical decimal (`ResourceID`).
    func resourceID(_ name: String) -> Int64? {
        self[name].flatMap { ResourceID.parse($0) }
    }
}
