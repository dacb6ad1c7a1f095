import RiskControl
import Testing

@Suite struct ClientAddressTests {
    @Test func parsesAndPrintsAddresses() {
        #expect(IPAddress("10.1.2.3")?.description == "10.1.2.3")
        #expect(IPAddress("10.1.2.3")?.isIPv4 == true)
        #expect(IPAddress("2001:DB8::1")?.description == "2001:db8::1")
        #expect(IPAddress("2001:db8:1:2:3:4:5:6")?.limiterKey == "2001:db8:1:2::/64")
        #expect(IPAddress("10.1.2.3")?.limiterKey == "10.1.2.3")
        #expect(IPAddress("10.1.2") == nil)
        #expect(IPAddress("") == nil)
        #expect(IPAddress("unknown") == nil)
    }

    @Test func cidrMembership() {
        let block = CIDR("10.0.0.0/8")!
        #expect(block.contains(IPAddress("10.255.0.1")!))
        #expect(!block.contains(IPAddress("11.0.0.1")!))
        #expect(CIDR("192.168.1.7")!.contains(IPAddress("192.168.1.7")!))
        #expect(!CIDR("192.168.1.7")!.contains(IPAddress("192.168.1.8")!))
        #expect(CIDR("fd00::/8")!.contains(IPAddress("fd12::1")!))
        #expect(!CIDR("fd00::/8")!.contains(IPAddress("fe80::1")!))
        #expect(!CIDR("0.0.0.0/0")!.contains(IPAddress("::1")!))
        #expect(CIDR("10.0.0.0/33") == nil)
        #expect(CIDR("10.0.0.0/") == nil)
        #expect(CIDR("nope/8") == nil)
    }

    @Test func forwardedForCountsOnlyBehindATrustedProxy() {
        let resolver = ClientAddressResolver(parsing: "10.0.0.0/8, 127.0.0.1")!
        #expect(resolver.trustedProxies.count == 2)
        // Untrusted peer: its header is ignored.
        #expect(resolver.client(peer: "203.0.113.9", forwardedFor: ["1.2.3.4"])?.description == "203.0.113.9")
        // Trusted peer: rightmost hop that is not a trusted proxy; the client's own (forged) hops are ignored.
        #expect(resolver.client(peer: "127.0.0.1", forwardedFor: ["6.6.6.6, 198.51.100.7, 10.0.0.2"])?.description == "198.51.100.7")
        #expect(resolver.client(peer: "127.0.0.1", forwardedFor: ["6.6.6.6", "198.51.100.7"])?.description == "198.51.100.7")
        // Every hop trusted: the leftmost.
        #expect(resolver.client(peer: "127.0.0.1", forwardedFor: ["10.0.0.3, 10.0.0.2"])?.description == "10.0.0.3")
        // Garbage where a trusted proxy would have written: the last trusted hop.
        #expect(resolver.client(peer: "127.0.0.1", forwardedFor: ["1.1.1.1, junk, 10.0.0.2"])?.description == "10.0.0.2")
        #expect(resolver.client(peer: "127.0.0.1", forwardedFor: [])?.description == "127.0.0.1")
        #expect(ClientAddressResolver(parsing: "10.0.0.0/8,bogus") == nil)
        #expect(ClientAddressResolver(parsing: "")?.trustedProxies.isEmpty == true)
    }
}
