import NIOCore

/// AWS event stream messages (`application/vnd.amazon.eventstream`), as InvokeWithResponseStream
/// answers: a prelude (total length, headers length, CRC-32 of those eight bytes), headers
/// (name length, name, type 7 = string, value length, value), the payload, and the CRC-32 of all
/// of it. Integers are big-endian.
enum EventStream {
    /// Appends one `event` message of type `eventType` to `buffer`.
    static func appendEvent(
        _ eventType: String, contentType: String, payload: some Collection<UInt8>, to buffer: inout ByteBuffer
    ) {
        let headers = [(":event-type", eventType), (":content-type", contentType), (":message-type", "event")]
        appendMessage(headers: headers, payload: payload, to: &buffer)
    }

    /// Appends one message with these string headers.
    static func appendMessage(
        headers strings: [(String, String)], payload: some Collection<UInt8>, to buffer: inout ByteBuffer
    ) {
        var headers = ByteBuffer()
        for (name, value) in strings {
            headers.writeInteger(UInt8(name.utf8.count))
            headers.writeString(name)
            headers.writeInteger(UInt8(7))
            headers.writeInteger(UInt16(value.utf8.count))
            headers.writeString(value)
        }
        let start = buffer.writerIndex
        buffer.writeInteger(UInt32(12 + headers.readableBytes + payload.count + 4))
        buffer.writeInteger(UInt32(headers.readableBytes))
        // The CRCs read the message in place: a payload chunk is up to 256 KiB, not copied again.
        buffer.writeInteger(crc32(of: buffer, from: start))
        buffer.writeBuffer(&headers)
        buffer.writeBytes(payload)
        buffer.writeInteger(crc32(of: buffer, from: start))
    }

    /// The CRC-32 of `buffer`'s bytes from `start` to its writer index.
    private static func crc32(of buffer: ByteBuffer, from start: Int) -> UInt32 {
        buffer.withVeryUnsafeBytes { crc32(UnsafeRawBufferPointer(rebasing: $0[start..<buffer.writerIndex])) }
    }

    /// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib computes it.
    static func crc32(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return ~crc
    }

    private static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
}
