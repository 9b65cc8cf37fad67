import Foundation
import Hummingbird

/// AddPermission, GetPolicy, RemovePermission.
extension LambdaRoutes {
    func addPolicyRoutes(to router: Router<BasicRequestContext>) {
        let service = service
        let path: RouterPath = "/2015-03-31/functions/{fn}/policy"
        router.post(path) { request, context in
            let fn = try function(context, maxLength: 256)
            let qualifier = try fn.qualifier(query: Self.query(request, "Qualifier"))
            let body = try await Self.body(request, as: AddPermissionRequest.self)
            return try Self.json(try await service.addPermission(fn.name, qualifier: qualifier, body), status: .created)
        }
        router.get(path) { request, context in
            let fn = try function(context, maxLength: 256)
            let qualifier = try fn.qualifier(query: Self.query(request, "Qualifier"))
            return try Self.json(try await service.getPolicy(fn.name, qualifier: qualifier))
        }
        router.delete("\(path)/{sid}") { request, context in
            let fn = try function(context, maxLength: 256)
            let qualifier = try fn.qualifier(query: Self.query(request, "Qualifier"))
            // The path segment as sent: percent-decoded here, as `{fn}` is.
            let sid = context.parameters.get("sid").map { $0.removingPercentEncoding ?? $0 } ?? ""
            try await service.removePermission(fn.name, qualifier: qualifier, sid: sid,
                                               revisionId: Self.query(request, "RevisionId"))
            return Self.empty()
        }
    }
}
