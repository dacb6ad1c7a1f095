/// Redis Cluster key → hash slot mapping (CRC16/XMODEM mod 16384, honoring `{hash tags}`).
/// Pure: routing and redirection handling are built on it elsewhere.
public enum RedisClusterSlot {
    public static let count = 16384

    /// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as in Redis' `crc16.c`.
    public static func crc16<Bytes: Sequence>(_ bytes: Bytes) -> UInt16 where Bytes.Element == UInt8 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    /// The slot of `key`. If the key has a `{` followed later by a `}` with at least one byte
    /// between them, only the bytes between the first `{` and the first `}` after it are hashed.
    public static func slot<Bytes: Collection>(forKey key: Bytes) -> Int where Bytes.Element == UInt8 {
        Int(crc16(hashedPart(of: key)) & 0x3FFF)
    }

    public static func slot(forKey key: String) -> Int { slot(forKey: Array(key.utf8)) }

    public static func slot(forKey key: RedisArgument) -> Int {
        var bytes: [UInt8] = []
        key.append(to: &bytes)
        return slot(forKey: bytes)
    }

    static func hashedPart<Bytes: Collection>(of key: Bytes) -> Bytes.SubSequence where Bytes.Element == UInt8 {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")) else { return key[...] }
        let afterOpen = key.index(after: open)
        guard let close = key[afterOpen...].firstIndex(of: UInt8(ascii: "}")), close != afterOpen else { return key[...] }
        return key[afterOpen..<close]
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}
