import Foundation

/// Byte-level zip surgery for hostile inputs ZIPFoundation won't write.
enum ZipBytes {
    static let localSignature: [UInt8] = [0x50, 0x4B, 0x03, 0x04]
    static let centralSignature: [UInt8] = [0x50, 0x4B, 0x01, 0x02]

    /// Offsets of every occurrence of `signature`.
    static func offsets(of signature: [UInt8], in zip: [UInt8]) -> [Int] {
        guard zip.count >= signature.count else { return [] }
        return (0...(zip.count - signature.count)).filter { Array(zip[$0..<$0 + signature.count]) == signature }
    }

    static func putUInt32(_ value: UInt32, at offset: Int, in zip: inout [UInt8]) {
        for byte in 0..<4 { zip[offset + byte] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(byte))) }
    }

    /// Rewrites the declared uncompressed size of every entry, local and central.
    static func declareUncompressedSize(_ size: UInt32, in zip: [UInt8]) -> [UInt8] {
        var patched = zip
        for offset in offsets(of: localSignature, in: zip) { putUInt32(size, at: offset + 22, in: &patched) }
        for offset in offsets(of: centralSignature, in: zip) { putUInt32(size, at: offset + 24, in: &patched) }
        return patched
    }

    /// A stored (uncompressed) zip of empty files, written by hand:
    /// ZIPFoundation rewrites its central directory per entry, far too slow
    /// for the entry-count limit. `unix: false` writes MS-DOS entries,
    /// which carry no permissions.
    static func emptyFiles(count: Int, unix: Bool = true) -> [UInt8] {
        var body: [UInt8] = []
        var central: [UInt8] = []
        for index in 0..<count {
            let name = Array("f\(index)".utf8)
            let offset = UInt32(body.count)
            body += localSignature + le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21)
                + le32(0) + le32(0) + le32(0) + le16(UInt16(name.count)) + le16(0) + name
            central += centralSignature + le16(unix ? 0x031E : 0x0014) + le16(20) + le16(0) + le16(0) + le16(0)
                + le16(0x21)
                + le32(0) + le32(0) + le32(0) + le16(UInt16(name.count)) + le16(0) + le16(0) + le16(0)
                + le16(0) + le32(unix ? 0o100644 << 16 : 0) + le32(offset) + name
        }
        let end: [UInt8] = [0x50, 0x4B, 0x05, 0x06] + le16(0) + le16(0)
            + le16(UInt16(count)) + le16(UInt16(count))
            + le32(UInt32(central.count)) + le32(UInt32(body.count)) + le16(0)
        return body + central + end
    }

    private static func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
    private static func le32(_ value: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
}
