/// The Lambda Runtime API: `/2018-06-01/runtime/...` served to one instance.
///
/// Only the runtime interface is served. The extensions (`/2020-01-01`), logs (`/2020-08-15`),
/// telemetry (`/2022-07-01`) and credentials (`/2021-04-23`) prefixes share the listener on AWS;
/// here they answer `404` with a JSON error, which extension-free runtimes never notice.
public enum RuntimeAPI {
    /// The path prefix every Runtime API request starts with.
    public static let prefix = "/2018-06-01"

    /// The largest buffered response (or error) body a runtime may post: 6 MiB + 100 bytes, as Lambda.
    ///
    /// A bigger body gets `413 RequestEntityTooLarge` and the invocation ends with
    /// ``InvocationOutcome/responseTooLarge(bytes:)``. The same cap applies to `/error` and
    /// `/runtime/init/error` bodies, because an error body becomes the caller's payload verbatim.
    public static let maxResponseBytes = 6_291_556

    /// The largest response a runtime may stream to a caller that takes it as it comes
    /// (InvokeWithResponseStream): 200 MiB, as Lambda (its "200 MB"). What a slow caller has not
    /// yet taken is bounded by ``ResponseStream/highWater``, not by this.
    public static let maxStreamedBytes = 200 << 20

    /// How many bytes of an oversized body the server reads and throws away before it gives up.
    ///
    /// Draining lets a runtime that sent a too-large response read its `413` and carry on over
    /// keep-alive (as on Lambda); past this the server answers `413` and closes the connection,
    /// so a runtime can't make the supervisor read forever. Memory use stays at zero either way.
    public static let maxDrainedBytes = 64 << 20

    /// The body a request that carries none (`GET /next`, unknown paths) may still send before the
    /// server closes the connection: nothing legitimate sends one, so it's only read to stay in sync.
    public static let maxIgnoredBodyBytes = 64 << 10

    /// Concurrent connections one instance's runtime may hold open; further ones are closed at once.
    ///
    /// Runtimes use one (keep-alive) or, closing each, one at a time; the cap bounds the
    /// supervisor's descriptors per instance (``fileDescriptorsPerInstance``). Connections the
    /// runtime has ended, whose end the server has not read yet, do not count (at most as many
    /// again).
    public static let maxConnections = 4

    /// File descriptors of the supervisor's one instance may hold at most: its Runtime API
    /// listener and connections (counted and ended), log pipe, network namespace, pidfd, cgroup
    /// files and a pre-made namespace's share (about 8 measured for an instance with one connection).
    public static let fileDescriptorsPerInstance = 8 + 2 * maxConnections
}
