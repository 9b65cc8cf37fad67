import Foundation
import Hummingbird

/// CreateFunction, GetFunction[Configuration], ListFunctions, UpdateFunctionCode,
/// UpdateFunctionConfiguration, DeleteFunction, PublishVersion, ListVersionsByFunction.
extension LambdaRoutes {
    func addFunctionRoutes(to router: Router<BasicRequestContext>) {
        let service = service
        let functions = "/2015-03-31/functions"
        router.post(RouterPath(functions)) { request, _ in
            let body = try await Self.body(request, as: WithUnapplied<CreateFunctionRequest>.self)
            return try Self.json(try await service.createFunction(body.request), status: .created)
        }
        router.get(RouterPath(functions)) { request, _ in
            let version = Self.query(request, "FunctionVersion")
            var violations = Violations()
            violations.oneOf(version, at: "functionVersion", ["ALL"])
            try violations.check()
            return try Self.json(try await service.listFunctions(
                marker: Self.query(request, "Marker"),
                maxItems: Self.integer(request, "MaxItems", field: "maxItems"), all: version == "ALL"))
        }
        router.get(RouterPath("\(functions)/{fn}")) { request, context in
            let fn = try function(context, maxLength: 256)
            return try Self.json(try await service.getFunction(
                fn.name, qualifier: fn.qualifier(query: Self.query(request, "Qualifier")),
                host: request.head.authority ?? "localhost"))
        }
        router.get(RouterPath("\(functions)/{fn}/configuration")) { request, context in
            let fn = try function(context, maxLength: 256)
            return try Self.json(try await service.configuration(
                fn.name, qualifier: fn.qualifier(query: Self.query(request, "Qualifier"))).0)
        }
        router.put(RouterPath("\(functions)/{fn}/configuration")) { request, context in
            let name = try function(context).unqualified()
            let body = try await Self.body(request, as: WithUnapplied<UpdateFunctionConfigurationRequest>.self)
            return try Self.json(try await service.updateFunctionConfiguration(name, body.request))
        }
        router.put(RouterPath("\(functions)/{fn}/code")) { request, context in
            let name = try function(context).unqualified()
            let body = try await Self.body(request, as: UpdateFunctionCodeRequest.self)
            return try Self.json(try await service.updateFunctionCode(name, body))
        }
        router.delete(RouterPath("\(functions)/{fn}")) { request, context in
            let fn = try function(context, maxLength: 256)
            try await service.deleteFunction(fn.name, qualifier: fn.qualifier(query: Self.query(request, "Qualifier")))
            return Self.empty()
        }
        router.post(RouterPath("\(functions)/{fn}/versions")) { request, context in
            let name = try function(context).unqualified()
            let body = try await Self.body(request, as: PublishVersionRequest.self)
            return try Self.json(try await service.publishVersion(name, body), status: .created)
        }
        router.get(RouterPath("\(functions)/{fn}/versions")) { request, context in
            let name = try function(context, maxLength: 256).unqualified()
            return try Self.json(try await service.listVersions(
                name, marker: Self.query(request, "Marker"),
                maxItems: Self.integer(request, "MaxItems", field: "maxItems")))
        }
    }
}
