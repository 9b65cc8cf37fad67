import Foundation
import Hummingbird

/// CreateAlias, GetAlias, UpdateAlias, DeleteAlias, ListAliases.
extension LambdaRoutes {
    func addAliasRoutes(to router: Router<BasicRequestContext>) {
        let service = service
        let aliases = "/2015-03-31/functions/{fn}/aliases"
        router.post(RouterPath(aliases)) { request, context in
            let name = try function(context).unqualified()
            let body = try await Self.body(request, as: CreateAliasRequest.self)
            return try Self.json(try await service.createAlias(name, body), status: .created)
        }
        router.get(RouterPath(aliases)) { request, context in
            let name = try function(context).unqualified()
            return try Self.json(try await service.listAliases(
                name, functionVersion: Self.query(request, "FunctionVersion"), marker: Self.query(request, "Marker"),
                maxItems: Self.integer(request, "MaxItems", field: "maxItems")))
        }
        router.get(RouterPath("\(aliases)/{alias}")) { _, context in
            let name = try function(context).unqualified()
            return try Self.json(try await service.getAlias(name, alias: Self.alias(context)))
        }
        router.put(RouterPath("\(aliases)/{alias}")) { request, context in
            let name = try function(context).unqualified()
            let body = try await Self.body(request, as: UpdateAliasRequest.self)
            return try Self.json(try await service.updateAlias(name, alias: Self.alias(context), body))
        }
        router.delete(RouterPath("\(aliases)/{alias}")) { _, context in
            let name = try function(context).unqualified()
            try await service.deleteAlias(name, alias: Self.alias(context))
            return Self.empty()
        }
    }

    /// The `{alias}` path parameter, checked against the model's pattern.
    private static func alias(_ context: some RequestContext) throws(LambdaError) -> String {
        let raw = context.parameters.get("alias") ?? ""
        let alias = PathParameter.decoded(raw) ?? raw
        var violations = Violations()
        violations.length(alias, at: "name", max: 128, min: 1)
        violations.pattern(alias, at: "name", #"(?!^[0-9]+$)([a-zA-Z0-9-_]+)"#, LambdaPattern.isAlias)
        try violations.check()
        return alias
    }
}
