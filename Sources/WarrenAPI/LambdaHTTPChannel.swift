import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1.1 channel with Warren's handlers in front of the conversion to
/// swift-http-types: NIO's decoder and encoder, then `handlers` (the connection limits and the
/// Invoke fast path, on NIO's HTTP/1 parts), then the conversion, Hummingbird's connection
/// state handler and the router.
///
/// Hummingbird's own `HTTP1Channel` adds its extra handlers behind the conversion. There, every
/// Invoke was converted to swift-http-types (each header name parsed and validated again) and its
/// answer converted back, though the fast path needs neither. Here only what goes on to the
/// router is converted, as before.
public struct LambdaHTTPChannel: HTTPChannelHandler {
    public typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    public let responder: HTTPChannelHandler.Responder
    private let handlers: @Sendable () -> [any RemovableChannelHandler]

    /// - Parameters:
    ///   - responder: The application's responder (Hummingbird passes it to the builder).
    ///   - handlers: Makes each connection's handlers on NIO's HTTP/1 parts, in pipeline order.
    public init(
        responder: @escaping HTTPChannelHandler.Responder,
        handlers: @escaping @Sendable () -> [any RemovableChannelHandler]
    ) {
        self.responder = responder
        self.handlers = handlers
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let sync = channel.pipeline.syncOperations
            // As Hummingbird's HTTP1Channel configures it (its default header limits).
            var limits = NIOHTTPDecoderLimitConfiguration()
            limits.maxHeaderFieldSize = 80 * 1024
            limits.maxHeaderListSize = 80 * 1024
            limits.maxHeaderFieldCount = 1000
            try sync.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false,
                withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits)
            try sync.addHandlers(handlers())
            try sync.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try sync.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
            return try NIOAsyncChannel(
                wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    public func handle(value asyncChannel: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// An HTTP/1.1 server whose connections get `handlers` before the conversion to
    /// swift-http-types (see ``LambdaHTTPChannel``).
    public static func lambda(handlers: @escaping @Sendable () -> [any RemovableChannelHandler]) -> HTTPServerBuilder {
        .init { responder in LambdaHTTPChannel(responder: responder, handlers: handlers) }
    }
}

extension LambdaAnswer {
    /// The answer's HTTP/1.1 head, its fields under their names as given (as the conversion from
    /// swift-http-types writes them), then `Content-Length`; room for `extra` more.
    func http1Head(extra: Int) -> HTTPResponseHead {
        var fields: [(String, String)] = []
        fields.reserveCapacity(headers.count + 1 + extra)
        for field in headers { fields.append((field.name.rawName, field.value)) }
        fields.append(("Content-Length", String(body.readableBytes)))
        return HTTPResponseHead(
            version: .http1_1, status: HTTPResponseStatus(statusCode: status.code, reasonPhrase: status.reasonPhrase),
            headers: HTTPHeaders(fields))
    }
}

/// Whether the header `name` is `lowercased`, ignoring ASCII case (names are ASCII tokens).
func headerNamed(_ name: String, _ lowercased: StaticString) -> Bool {
    let expected = UnsafeRawBufferPointer(start: lowercased.utf8Start, count: lowercased.utf8CodeUnitCount)
    guard name.utf8.count == expected.count else { return false }
    return zip(name.utf8, expected).allSatisfy { byte, lower in
        byte == lower || ((UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) && byte | 0x20 == lower)
    }
}
