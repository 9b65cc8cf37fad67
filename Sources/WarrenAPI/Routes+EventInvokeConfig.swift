import Foundation
import Hummingbird

/// Put/Update/Get/Delete/ListFunctionEventInvokeConfig(s).
extension LambdaRoutes {
    func addEventInvokeConfigRoutes(to router: Router<BasicRequestContext>) {
        let service = service
        let path = "/2019-09-25/functions/{fn}/event-invoke-config"
        for (method, merge) in [(HTTPRequest.Method.put, false), (.post, true)] {
            router.on(RouterPath(path), method: method) { request, context in
                let fn = try function(context, maxLength: 256)
                let qualifier = try fn.qualifier(query: Self.query(request, "Qualifier"))
                let body = try await Self.body(request, as: EventInvokeConfigRequest.self)
                return try Self.json(try await service.putEventInvokeConfig(fn.name, qualifier: qualifier, body,
                                                                            merge: merge))
            }
        }
        router.get(RouterPath(path)) { request, context in
            let fn = try function(context, maxLength: 256)
            let qualifier = try fn.qualifier(query: Self.query(request, "Qualifier"))
            return try Self.json(try await service.getEventInvokeConfig(fn.name, qualifier: qualifier))
        }
        router.delete(RouterPath(path)) { request, context in
            let fn = try function(context, maxLength: 256)
            let qualifier = try fn.qualifier(query: Self.query(request, "Qualifier"))
            try await service.deleteEventInvokeConfig(fn.name, qualifier: qualifier)
            return Self.empty()
        }
        router.get(RouterPath("\(path)/list")) { request, context in
            let name = try function(context, maxLength: 256).unqualified()
            return try Self.json(try await service.listEventInvokeConfigs(
                name, marker: Self.query(request, "Marker"),
                maxItems: Self.integer(request, "MaxItems", field: "maxItems")))
        }
    }
}
