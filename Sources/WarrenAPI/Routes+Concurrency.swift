import Foundation
import Hummingbird

/// Put/Get/DeleteFunctionConcurrency, Put/Get/Delete/ListProvisionedConcurrencyConfig(s),
/// Put/Get/DeleteFunctionCodeSigningConfig, GetAccountSettings.
extension LambdaRoutes {
    func addConcurrencyRoutes(to router: Router<BasicRequestContext>) {
        let service = service
        router.put("/2017-10-31/functions/{fn}/concurrency") { request, context in
            let name = try function(context).unqualified()
            let body = try await Self.body(request, as: ConcurrencyShape.self)
            return try Self.json(try await service.putFunctionConcurrency(name, body.reservedConcurrentExecutions))
        }
        router.delete("/2017-10-31/functions/{fn}/concurrency") { _, context in
            try await service.deleteFunctionConcurrency(try function(context).unqualified())
            return Self.empty()
        }
        router.get("/2019-09-30/functions/{fn}/concurrency") { _, context in
            try Self.json(try await service.getFunctionConcurrency(try function(context).unqualified()))
        }
        addProvisionedRoutes(to: router)
        let codeSigning: RouterPath = "/2020-06-30/functions/{fn}/code-signing-config"
        router.get(codeSigning) { _, context in
            try Self.json(try await service.getFunctionCodeSigningConfig(try function(context).unqualified()))
        }
        router.put(codeSigning) { request, context in
            let name = try function(context).unqualified()
            let body = try await Self.body(request, as: PutFunctionCodeSigningRequest.self)
            return try Self.json(try await service.putFunctionCodeSigningConfig(name, arn: body.codeSigningConfigArn))
        }
        router.delete(codeSigning) { _, context in
            try await service.deleteFunctionCodeSigningConfig(try function(context).unqualified())
            return Self.empty()
        }
        router.get("/2016-08-19/account-settings") { _, _ in
            try Self.json(try await service.accountSettings())
        }
    }

    private func addProvisionedRoutes(to router: Router<BasicRequestContext>) {
        let service = service
        let path: RouterPath = "/2019-09-30/functions/{fn}/provisioned-concurrency"
        router.put(path) { request, context in
            let fn = try function(context)
            let qualifier = try fn.qualifier(query: Self.query(request, "Qualifier"))
            let body = try await Self.body(request, as: PutProvisionedConcurrencyRequest.self)
            return try Self.json(try await service.putProvisionedConcurrency(
                fn.name, qualifier: qualifier, count: body.provisionedConcurrentExecutions), status: .accepted)
        }
        router.get(path) { request, context in
            let fn = try function(context)
            if Self.query(request, "List") == "ALL" {
                return try Self.json(try await service.listProvisionedConcurrency(
                    try fn.unqualified(), marker: Self.query(request, "Marker"),
                    maxItems: Self.integer(request, "MaxItems", field: "maxItems")))
            }
            let qualifier = try fn.qualifier(query: Self.query(request, "Qualifier"))
            return try Self.json(try await service.getProvisionedConcurrency(fn.name, qualifier: qualifier))
        }
        router.delete(path) { request, context in
            let fn = try function(context)
            let qualifier = try fn.qualifier(query: Self.query(request, "Qualifier"))
            try await service.deleteProvisionedConcurrency(fn.name, qualifier: qualifier)
            return Self.empty()
        }
    }
}
