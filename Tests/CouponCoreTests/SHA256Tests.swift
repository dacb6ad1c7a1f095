import CouponCore
import Testing

/// SHA-256 against FIPS 180-4 test vectors, one-shot and fed in pieces (a streamed upload is
/// hashed chunk by chunk for its `Idempotency-Key`).
@Suite struct SHA256Tests {
    @Test func knownVectors() {
        #expect(SHA256.hexDigest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hexDigest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hexDigest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func piecesOfAnySizeGiveTheOneShotDigest() {
        let message = (0..<1_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = SHA256.hexDigest(bytes: message)
        for piece in [1, 3, 63, 64, 65, 200, 1_000] {
            var hasher = SHA256.Hasher()
            var start = 0
            while start < message.count {
                hasher.update(message[start..<min(start + piece, message.count)])
                start += piece
            }
            #expect(hasher.finalizeHex() == whole)
        }
    }
}
