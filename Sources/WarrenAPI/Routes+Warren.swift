import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WarrenStore
import WarrenSupervisor

/// Warren's own routes (signed like the rest): what runs now, and a
/// function's log read from a follower's position (`warren logs --follow` polls it; see
/// ``LogReader``).
extension LambdaRoutes {
    func addWarrenRoutes(to router: Router<BasicRequestContext>) {
        let service = service
        router.get("/warren/v1/instances") { _, _ in
            let instances = await service.supervisor.instances().map(WarrenInstance.init)
            return try Self.json(WarrenInstances(instances: instances))
        }
        router.get("/warren/v1/functions/{fn}/logs") { request, context in
            let name = try function(context).unqualified()
            let offset = try Self.integer(request, "Offset", field: "offset") ?? 0
            guard offset >= 0 else {
                throw Violations.single(String(offset), at: "offset",
                                        "Member must have value greater than or equal to 0")
            }
            // The file the offset is in (its identity, from the last answer's X-Warren-Log-File).
            let file = try Self.integer(request, "File", field: "file", as: UInt64.self)
            _ = try await service.store.getFunction(name)
            let path = service.logDirectory.appendingPathComponent("\(name).log").path
            let chunk = try LogReader.read(path: path, from: offset, in: file)
            var headers: HTTPFields = [.contentType: "text/plain; charset=utf-8", .warrenNextOffset: String(chunk.next)]
            headers[.warrenLogFile] = chunk.file.map(String.init)
            return Response(status: .ok, headers: headers,
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: chunk.bytes)))
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
