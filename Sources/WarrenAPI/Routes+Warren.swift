import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WarrenStore
import WarrenSupervisor

/// Warren's own routes (signed like the rest): what runs now, and a
/// function's log file read from an offset (`warren logs --follow` polls it).
extension LambdaRoutes {
    /// Longest log chunk one request returns.
    static let maxLogChunk = 1 << 20

    func addWarrenRoutes(to router: Router<BasicRequestContext>) {
        let service = service
        router.get("/warren/v1/instances") { _, _ in
            let instances = await service.supervisor.instances().map(WarrenInstance.init)
            return try Self.json(WarrenInstances(instances: instances))
        }
        router.get("/warren/v1/functions/{fn}/logs") { request, context in
            let name = try Self.function(context).unqualified()
            let offset = try Self.integer(request, "Offset", field: "offset") ?? 0
            guard offset >= 0 else {
                throw Violations.single(String(offset), at: "offset",
                                        "Member must have value greater than or equal to 0")
            }
            _ = try await service.store.getFunction(name)
            let path = service.logDirectory.appendingPathComponent("\(name).log").path
            let (bytes, next) = try Self.readLog(path: path, from: offset)
            let headers: HTTPFields = [.contentType: "text/plain; charset=utf-8", .warrenNextOffset: String(next)]
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        addCodeRoute(to: router)
    }

    /// `GET /warren/v1/code/{sha256}`: a function's package as it was uploaded (where
    /// `GetFunction`'s `Code.Location` points).
    func addCodeRoute(to router: Router<BasicRequestContext>) {
        let code = service.code
        router.get("/warren/v1/code/{sha256}") { _, context in
            let sha256 = context.parameters.get("sha256") ?? ""
            let path = code.zipFile(for: sha256).path
            guard CodeStore.isDigest(sha256), FileManager.default.fileExists(atPath: path) else {
                throw LambdaError.notFound("No code package \(sha256) is stored here.")
            }
            let body = try await FileIO().loadFile(path: path, context: context)
            return Response(status: .ok, headers: [.contentType: "application/zip"], body: body)
        }
    }

    /// At most ``maxLogChunk`` bytes from `offset`, and the offset after them.
    /// A missing file reads as empty; an offset past the end means the file was
    /// begun again (rotated, or the function re-created): reading starts over at 0.
    static func readLog(path: String, from offset: Int) throws -> ([UInt8], Int) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return ([], offset) }
        defer { try? handle.close() }
        let size = Int(try handle.seekToEnd())
        let start = offset > size ? 0 : offset
        try handle.seek(toOffset: UInt64(start))
        let data = try handle.read(upToCount: min(maxLogChunk, size - start)) ?? Data()
        return ([UInt8](data), start + data.count)
    }
}

/// `GET /warren/v1/instances`.
struct WarrenInstances: Codable, Sendable {
    var instances: [WarrenInstance]
    enum CodingKeys: String, CodingKey { case instances = "Instances" }
}

/// One running instance.
struct WarrenInstance: Codable, Sendable, Equatable {
    var id: String
    var functionName: String
    var version: String
    var state: String
    var pid: Int32
    var provisioned: Bool
    var frozen: Bool
    var ageSeconds: Double
    var memoryBytes: UInt64?
    var memorySize: Int
    enum CodingKeys: String, CodingKey {
        case id = "Id", functionName = "FunctionName", version = "Version", state = "State", pid = "Pid"
        case provisioned = "Provisioned", frozen = "Frozen", ageSeconds = "AgeSeconds"
        case memoryBytes = "MemoryBytes", memorySize = "MemorySize"
    }

    init(_ info: InstanceInfo) {
        id = info.id
        functionName = info.functionName
        version = info.version
        state = info.state
        pid = info.pid
        provisioned = info.provisioned
        frozen = info.frozen
        ageSeconds = info.ageSeconds
        memoryBytes = info.memoryBytes
        memorySize = info.memorySize
    }
}
