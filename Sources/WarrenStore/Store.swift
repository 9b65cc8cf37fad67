import Foundation

/// Warren's durable state: functions, versions, aliases, settings, the async queue.
///
/// Every method is one transaction: it happens entirely or not at all, so
/// a crash leaves the previous state or the new one, never half. Code is
/// written to a ``CodeStore`` *before* a record names it by `codeSha256`.
/// SQLite (``SQLiteStore``) implements it for one host; PostgreSQL is to follow.
public protocol StateStore: Sendable {
    // MARK: Functions

    /// Stores a new function with its tags. - Throws: `conflict` if it exists, `invalid` if its
    /// code is absent or the tags are more than ``maxTags``.
    func createFunction(_ function: FunctionRecord, tags: [String: String]) async throws -> FunctionRecord
    /// `$LATEST` of a function. - Throws: `notFound`.
    func getFunction(_ name: String) async throws -> FunctionRecord
    /// Functions in name order, at most `maxItems` (1…50 are sensible), after `marker`.
    func listFunctions(marker: String?, maxItems: Int) async throws -> Page<FunctionRecord>
    /// Changes configuration fields. - Throws: `notFound`, `preconditionFailed` on a stale `expectedRevisionId`.
    func updateFunctionConfiguration(_ name: String, _ update: FunctionConfigurationUpdate,
                                     expectedRevisionId: String?) async throws -> FunctionRecord
    /// Points `$LATEST` at other code. - Throws: `notFound`, `preconditionFailed`, `invalid` if the code is absent.
    func updateFunctionCode(_ name: String, codeSha256: String, codeSize: Int,
                            expectedRevisionId: String?) async throws -> FunctionRecord
    /// Deletes a function with everything under it, or with a numeric `qualifier` one version.
    /// - Throws: `notFound`; `conflict` if an alias points at the version; `invalid` for `$LATEST` or an alias.
    func deleteFunction(_ name: String, qualifier: String?) async throws

    // MARK: Resource-based policies

    /// The resource-based policy of a function (`qualifier` nil or `$LATEST`) or of one of its
    /// versions or aliases; nil when it has no statement.
    /// - Throws: `notFound` for the function, or a qualifier that names no version or alias.
    func policy(of function: String, qualifier: String?) async throws -> PolicyRecord?
    /// Adds a statement to the policy, making the policy if need be.
    /// - Throws: `notFound` as ``policy(of:qualifier:)``; `conflict` when the policy has a statement
    ///   with this id; `preconditionFailed` when `expectedRevisionId` is not the RevisionId of what
    ///   the policy is attached to (the function, the version or the alias), which this renews.
    func addPolicyStatement(_ function: String, qualifier: String?, _ statement: PolicyStatement,
                            expectedRevisionId: String?) async throws -> PolicyRecord
    /// Removes the statement with this id; the policy goes with its last statement.
    /// - Throws: `notFound` as ``policy(of:qualifier:)``, or when there is no such statement;
    ///   `preconditionFailed` as ``addPolicyStatement(_:qualifier:_:expectedRevisionId:)``.
    func removePolicyStatement(_ function: String, qualifier: String?, sid: String,
                               expectedRevisionId: String?) async throws

    // MARK: Tags

    /// A function's tags. - Throws: `notFound`.
    func tags(of function: String) async throws -> [String: String]
    /// Adds `tags` to a function's, replacing the values of keys it has.
    /// - Throws: `notFound`; `invalid` when it would have more than ``maxTags``.
    func tagFunction(_ function: String, tags: [String: String]) async throws
    /// Removes the tags with these keys; keys it does not have are no error. - Throws: `notFound`.
    func untagFunction(_ function: String, keys: [String]) async throws

    // MARK: Versions and aliases

    /// Snapshots `$LATEST` as the next version, or returns the last version if nothing changed.
    /// - Throws: `invalid` on a CodeSha256 (base64 or hex) mismatch, `preconditionFailed` on a stale RevisionId.
    func publishVersion(_ name: String, description: String?, expectedCodeSha256: String?,
                        expectedRevisionId: String?) async throws -> VersionRecord
    /// A published version. - Throws: `notFound`.
    func getVersion(_ name: String, version: String) async throws -> VersionRecord
    /// Published versions in number order (`$LATEST` not included).
    func listVersions(_ name: String) async throws -> [VersionRecord]
    /// - Throws: `conflict` if the alias exists, `notFound` if the function or a version is missing.
    func createAlias(_ alias: AliasRecord) async throws -> AliasRecord
    /// An alias. - Throws: `notFound` ("Cannot find alias arn: …").
    func getAlias(_ function: String, name: String) async throws -> AliasRecord
    /// Replaces the alias's target, weights and description.
    /// - Throws: `notFound`, `preconditionFailed` on a stale `expectedRevisionId`.
    func updateAlias(_ alias: AliasRecord, expectedRevisionId: String?) async throws -> AliasRecord
    /// Deletes an alias and the settings made on it. Missing aliases are not an error (Lambda answers 204).
    func deleteAlias(_ function: String, name: String) async throws
    /// Aliases in name order, optionally only those routing to `functionVersion`.
    func listAliases(_ function: String, functionVersion: String?) async throws -> [AliasRecord]

    // MARK: Concurrency and async settings

    /// Sets a function's reserved concurrency; account limits are the caller's to check.
    func putFunctionConcurrency(_ function: String, reserved: Int) async throws
    /// `nil` when unset. - Throws: `notFound` if the function is missing.
    func getFunctionConcurrency(_ function: String) async throws -> Int?
    /// Unsets reserved concurrency; unset already is not an error.
    func deleteFunctionConcurrency(_ function: String) async throws
    /// Every function's reserved concurrency, for admission control at start-up.
    func allFunctionConcurrency() async throws -> [String: Int]
    /// Creates or replaces the request on a version or alias. - Throws: `invalid` for `$LATEST`, `notFound`.
    func putProvisionedConcurrency(_ record: ProvisionedConcurrencyRecord) async throws
    /// - Throws: `notFound` for the function, `provisionedConfigNotFound` ("No Provisioned Concurrency
    ///   Config found for this function").
    func getProvisionedConcurrency(_ function: String, qualifier: String) async throws -> ProvisionedConcurrencyRecord
    /// Removes the request; absent already is not an error.
    func deleteProvisionedConcurrency(_ function: String, qualifier: String) async throws
    /// One function's settings, or every function's with `nil`.
    func listProvisionedConcurrency(_ function: String?) async throws -> [ProvisionedConcurrencyRecord]
    /// Creates or replaces (Lambda's Put; Update merges in the caller). - Throws: `notFound` for a missing qualifier.
    func putEventInvokeConfig(_ record: EventInvokeConfigRecord) async throws
    /// - Throws: `notFound` if the function or the config is missing.
    func getEventInvokeConfig(_ function: String, qualifier: String) async throws -> EventInvokeConfigRecord
    /// Removes the config; absent already is not an error.
    func deleteEventInvokeConfig(_ function: String, qualifier: String) async throws
    /// A function's configs in qualifier order.
    func listEventInvokeConfigs(_ function: String) async throws -> [EventInvokeConfigRecord]

    // MARK: The async queue

    /// Durably accepts an event; once this returns the event survives a crash.
    func enqueue(requestId: String, function: String, qualifier: String, payload: [UInt8],
                 at now: Date) async throws -> QueuedEvent
    /// Claims up to `limit` due events (queued and due, or in flight with a
    /// lapsed lease), oldest first, marking them in flight until `now + lease`. An event of a
    /// function that already has `perFunction` events running (`running`, plus those claimed
    /// here), or as many as its reserved concurrency (at least one), is passed over: one
    /// function's backlog never holds up another's events, nor is claimed only to be throttled.
    func claimDue(now: Date, limit: Int, lease: Duration, perFunction: Int,
                  running: [String: Int]) async throws -> [QueuedEvent]
    /// Hands every in-flight claim back to the queue, due now. For start-up
    /// of the only process that uses this store: no claimer can be alive,
    /// so waiting for their leases to lapse would only delay the events.
    /// - Returns: How many events were handed back.
    @discardableResult
    func releaseClaims(now: Date) async throws -> Int
    /// The event ran; forget it.
    func complete(_ id: Int64) async throws
    /// The attempt failed; try again at `nextAttemptAt`. A `throttled`
    /// attempt never reached the function and is counted in `throttles`.
    func retry(_ id: Int64, nextAttemptAt: Date, throttled: Bool) async throws
    /// Makes every queued event that was throttled due at `now` (a slot it may take was freed).
    /// - Returns: How many were.
    @discardableResult
    func wakeThrottled(now: Date) async throws -> Int
    /// Give up on the event; it is never claimed again. Its payload is dropped at once; the rest
    /// is kept a day, for ``queueStats()``'s failed count.
    func fail(_ id: Int64) async throws
    /// Depth and age, for `/metrics`.
    func queueStats() async throws -> QueueStats
}

/// Lambda's quota of tags per function.
public let maxTags = 50

extension StateStore {
    /// Stores a new function without tags.
    public func createFunction(_ function: FunctionRecord) async throws -> FunctionRecord {
        try await createFunction(function, tags: [:])
    }

    /// Claims with a 960 s lease: Lambda's longest timeout (900 s) plus a
    /// margin, so a live claimer never loses an event it is still running.
    public func claimDue(now: Date, limit: Int) async throws -> [QueuedEvent] {
        try await claimDue(now: now, limit: limit, lease: .seconds(960))
    }

    /// Claims with no limit per function.
    public func claimDue(now: Date, limit: Int, lease: Duration) async throws -> [QueuedEvent] {
        try await claimDue(now: now, limit: limit, lease: lease, perFunction: .max, running: [:])
    }

    /// The function ran and failed; try again at `nextAttemptAt`.
    public func retry(_ id: Int64, nextAttemptAt: Date) async throws {
        try await retry(id, nextAttemptAt: nextAttemptAt, throttled: false)
    }
}
