import CouponCore
import Foundation
import QRCode
import Testing

import ServiceTestSupport

/// `GET /v1/coupons/{code}/qr.svg`: the owner gets the symbol (before and after the flush);
/// anyone else, and any unknown code, gets the same 404.
@Suite struct CouponQRTests {
    @Test func ownerGetsTheSymbolOthersGetTheSame404() throws {
        let node = try TestNode.start(flusher: false)
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 5)
        let code = try node.claimCode(campaign: campaign)
        let expected = Array(try QRCode.encode(code).svg().utf8)

        // Not flushed yet: found through the owner's unflushed grants.
        let early = try node.request("GET", "/v1/coupons/\(code)/qr.svg?user_id=alice", as: .checkout)
        #expect(early.status == 200)
        #expect(early.headers["content-type"] == "image/svg+xml")
        #expect(early.body == expected)

        let foreign = try node.request("GET", "/v1/coupons/\(code)/qr.svg?user_id=bob", as: .checkout)
        let unknown = try node.request("GET", "/v1/coupons/\(CouponCode.random().value)/qr.svg?user_id=alice", as: .checkout)
        let malformed = try node.request("GET", "/v1/coupons/not*a*code/qr.svg?user_id=alice", as: .checkout)
        for answer in [foreign, unknown, malformed] {
            #expect(answer.status == 404)
            #expect(answer.body == foreign.body)
        }
        #expect(try node.request("GET", "/v1/coupons/\(code)/qr.svg", as: .checkout).status == 400)
        #expect(try node.request("GET", "/v1/coupons/\(code)/qr.svg?user_id=a%20b", as: .checkout).status == 400)
        #expect(try node.request("GET", "/v1/coupons/\(code)/qr.svg?user_id=alice", as: .issue).status == 403)
        #expect(try node.request("GET", "/v1/coupons/\(code)/qr.svg?user_id=alice", as: nil).status == 401)
    }

    @Test func flushedCouponKeepsItsSymbol() throws {
        let node = try TestNode.start()
        defer { node.stop() }
        let campaign = try node.createCampaign(stock: 10, perUserLimit: 5)
        let code = try node.claimCode(campaign: campaign)
        #expect(try node.waitForFlush(campaignId: campaign, expected: 1))
        let answer = try node.request("GET", "/v1/coupons/\(code)/qr.svg?user_id=alice", as: .checkout)
        #expect(answer.status == 200)
        #expect(answer.body == Array(try QRCode.encode(code).svg().utf8))
        #expect(try node.request("GET", "/v1/coupons/\(code)/qr.svg?user_id=bob", as: .checkout).status == 404)
    }
}
