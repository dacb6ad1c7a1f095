import Glibc

/// An IPv4 or IPv6 address as 16 bytes (IPv4 as `::ffff:a.b.c.d`).
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public var isIPv4: Bool { bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff }

    public init?(_ text: some StringProtocol) {
        let string = String(text)
        guard !string.isEmpty, string.utf8.count <= 45 else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, string, &v4) == 1 {
            let value = UInt32(bigEndian: v4.s_addr)
            bytes = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) }
            return
        }
        var v6 = [UInt8](repeating: 0, count: 16)
        guard inet_pton(AF_INET6, string, &v6) == 1 else { return nil }
        bytes = v6
    }

    public var description: String {
        if isIPv4 { return bytes[12...].map(String.init).joined(separator: ".") }
        var text = [CChar](repeating: 0, count: 64)
        var raw = bytes
        _ = inet_ntop(AF_INET6, &raw, &text, 64)
        return String(cString: text)
    }

    /// The key a per-client limit counts under: the IPv4 address, or the IPv6 /64 (one
    /// subscriber usually holds a whole /64).
    public var limiterKey: String {
        guard !isIPv4 else { return description }
        return (IPAddress(bytes: Array(bytes[0..<8]) + [UInt8](repeating: 0, count: 8))?.description ?? description) + "/64"
    }

    init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        self.bytes = bytes
    }
}

/// An address block, `10.0.0.0/8`, `fd00::/8` or a single address.
public struct CIDR: Sendable, Hashable {
    public let network: IPAddress
    /// Prefix length over the 16-byte form (IPv4 prefixes are offset by 96).
    public let prefix: Int

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let address = IPAddress(parts[0]) else { return nil }
        let maximum = address.isIPv4 ? 32 : 128
        var length = maximum
        if parts.count == 2 {
            guard let value = Int(parts[1]), (0...maximum).contains(value), parts[1].allSatisfy(\.isASCII) else { return nil }
            length = value
        }
        prefix = length + (address.isIPv4 ? 96 : 0)
        network = address
    }

    public func contains(_ address: IPAddress) -> Bool {
        var remaining = prefix
        for index in 0..<16 where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
            if address.bytes[index] & mask != network.bytes[index] & mask { return false }
            remaining -= bits
        }
        return true
    }
}

/// Finds the client's address: the TCP peer, unless the peer is a trusted proxy; then the
/// rightmost `X-Forwarded-For` hop that is not itself a trusted proxy (hops left of it can be
/// forged by the client, hops right of it were appended by proxies we trust).
public struct ClientAddressResolver: Sendable {
    public let trustedProxies: [CIDR]

    public init(trustedProxies: [CIDR]) { self.trustedProxies = trustedProxies }

    /// Parses `10.0.0.0/8,127.0.0.1` (commas or spaces); nil when an entry is not an address or block.
    public init?(parsing text: String) {
        var blocks: [CIDR] = []
        for entry in text.split(whereSeparator: { $0 == "," || $0 == " " }) {
            guard let block = CIDR(entry) else { return nil }
            blocks.append(block)
        }
        self.init(trustedProxies: blocks)
    }

    public func isTrusted(_ address: IPAddress) -> Bool { trustedProxies.contains { $0.contains(address) } }

    /// `forwardedFor`: every `X-Forwarded-For` header value, in order.
    public func client(peer: String, forwardedFor: [String]) -> IPAddress? {
        guard let peerAddress = IPAddress(peer) else { return nil }
        guard isTrusted(peerAddress), !forwardedFor.isEmpty else { return peerAddress }
        var client = peerAddress
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }
        for hop in hops.reversed() {
            // A hop a trusted proxy appended is well-formed; garbage means someone else wrote it.
            guard let address = IPAddress(hop.trimmingCharacters(in: " \t")) else { return client }
            client = address
            if !isTrusted(address) { return address }
        }
        return client
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> Substring {
        var slice = self
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return slice
    }
}
