import NIOCore
import Testing

@testable import WarrenAPI

/// The event stream framing InvokeWithResponseStream answers in (boto3 reads it in the
/// integration tests, checking both CRCs of every message).
@Suite struct EventStreamTests {
    @Test func crc32IsZlibs() {
        #expect(EventStream.crc32(Array("123456789".utf8)) == 0xCBF4_3926)  // the CRC-32 check value
        #expect(EventStream.crc32([]) == 0)
    }

    /// aws-c-event-stream's `empty_message` vector.
    @Test func anEmptyMessageIsTheReferenceBytes() {
        var buffer = ByteBuffer()
        EventStream.appendMessage(headers: [], payload: [UInt8](), to: &buffer)
        #expect(Array(buffer.readableBytesView)
            == [0, 0, 0, 0x10, 0, 0, 0, 0, 0x05, 0xC2, 0x48, 0xEB, 0x7D, 0x98, 0xC8, 0xFF])
    }

    @Test func anEventReadsBackWithItsLengthsHeadersPayloadAndCRCs() throws {
        var buffer = ByteBuffer()
        EventStream.appendEvent("PayloadChunk", contentType: "application/octet-stream",
                                payload: Array("hello".utf8), to: &buffer)
        let bytes = Array(buffer.readableBytesView)
        let word = { (at: Int) in bytes[at..<at + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
        #expect(Int(word(0)) == bytes.count)
        #expect(word(8) == EventStream.crc32(bytes[0..<8]))
        #expect(word(bytes.count - 4) == EventStream.crc32(bytes[0..<bytes.count - 4]))
        let headersLength = Int(word(4))
        #expect(Array(bytes[(12 + headersLength)..<(bytes.count - 4)]) == Array("hello".utf8))
        var headers: [String: String] = [:]
        var i = 12
        while i < 12 + headersLength {
            let nameLength = Int(bytes[i])
            let name = String(decoding: bytes[(i + 1)..<(i + 1 + nameLength)], as: UTF8.self)
            i += 1 + nameLength
            #expect(bytes[i] == 7)  // string
            let valueLength = Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
            headers[name] = String(decoding: bytes[(i + 3)..<(i + 3 + valueLength)], as: UTF8.self)
            i += 3 + valueLength
        }
        #expect(headers == [":event-type": "PayloadChunk", ":content-type": "application/octet-stream",
                            ":message-type": "event"])
    }
}
