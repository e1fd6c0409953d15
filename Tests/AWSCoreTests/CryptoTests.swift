import Foundation
import Testing
@testable import AWSCore

/// SHA-256 and HMAC-SHA256 against published vectors (FIPS 180-2 examples, RFC 4231).
@Suite struct CryptoTests {
    @Test func sha256OfKnownInputs() {
        #expect(AWSCrypto.sha256Hex("") == AWSCrypto.emptySHA256Hex)
        #expect(AWSCrypto.sha256Hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(AWSCrypto.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(AWSCrypto.sha256Hex(Array("abc".utf8)) == AWSCrypto.sha256Hex("abc"))
        #expect(AWSCrypto.sha256("abc").count == 32)
    }

    @Test func sha256OfOneMillionBytes() {
        // FIPS 180-2 long example: one million "a".
        let body = Data(repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(AWSCrypto.sha256Hex(body) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func sha256OfDataSlice() {
        // A Data slice does not start at index 0; the bytes hashed must be the slice's.
        let whole = Data("xxabcxx".utf8)
        let slice = whole[2..<5]
        #expect(AWSCrypto.sha256Hex(slice) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func incrementalHasherMatchesOneShot() {
        var hasher = SHA256Hasher()
        hasher.update("a")
        hasher.update(Data())
        hasher.update(Data("b".utf8))
        hasher.update([UInt8(ascii: "c")])
        #expect(AWSCrypto.hex(hasher.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")

        let empty = SHA256Hasher()
        #expect(AWSCrypto.hex(empty.finalize()) == AWSCrypto.emptySHA256Hex)
    }

    @Test func hmacSHA256RFC4231() {
        // Test case 1.
        #expect(AWSCrypto.hex(AWSCrypto.hmacSHA256(key: [UInt8](repeating: 0x0b, count: 20), message: "Hi There"))
            == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        // Test case 2.
        #expect(AWSCrypto.hex(AWSCrypto.hmacSHA256(key: Array("Jefe".utf8), message: "what do ya want for nothing?"))
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // Test case 6: a key longer than the block size is hashed first.
        #expect(AWSCrypto.hex(AWSCrypto.hmacSHA256(
            key: [UInt8](repeating: 0xaa, count: 131),
            message: Data("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
            == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func hmacSHA256OfEmptyKeyAndMessage() {
        #expect(AWSCrypto.hex(AWSCrypto.hmacSHA256(key: [UInt8](), message: ""))
            == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }

    @Test func hexIsLowercaseTwoDigitsPerByte() {
        #expect(AWSCrypto.hex([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(AWSCrypto.hex([UInt8]()) == "")
    }
}
