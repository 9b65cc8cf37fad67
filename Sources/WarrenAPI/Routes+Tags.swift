import Hummingbird

/// TagResource, UntagResource, ListTags: on a function's ARN.
extension LambdaRoutes {
    func addTagRoutes(to router: Router<BasicRequestContext>) {
        let service = service
        let path: RouterPath = "/2017-03-31/tags/{resource}"
        router.post(path) { request, context in
            let resource = try resource(context)
            let body = try await Self.body(request, as: TagResourceRequest.self)
            try await service.tagResource(resource, tags: body.tags)
            return Self.empty()
        }
        router.get(path) { _, context in
            try Self.json(try await service.listTags(try resource(context)))
        }
        router.delete(path) { request, context in
            let keys = request.uri.queryParameters.getAll("tagKeys").map { String($0) }
            try await service.untagResource(try resource(context), keys: keys)
            return Self.empty()
        }
    }

    private func resource(_ context: some RequestContext) throws(LambdaError) -> TaggableResource {
        try TaggableResource(path: context.parameters.get("resource") ?? "", home: service.arn)
    }
}
