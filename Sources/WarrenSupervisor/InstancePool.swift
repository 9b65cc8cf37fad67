import Foundation
import NIOCore
import Synchronization

/// The instances of one function version: the idle ones to reuse (last
/// used first, so the warmest runs), and all of them for reclaim and
/// shutdown. Provisioned instances are kept apart: they serve provisioned
/// leases and are never reclaimed for idleness.
///
/// Its lists sit behind a lock rather than in an actor: taking and putting
/// back an instance, twice per invocation, then run on the caller's executor
/// (the supervisor's) without a hop each way. Its `async` methods are
/// `nonisolated(nonsending)` for the same reason; what they await (an
/// instance's uid, its destruction) happens outside the lock.
final class InstancePool: Sendable {
    let version: FunctionVersion
    private struct Lists {
        var idle: [Instance] = []
        var idleProvisioned: [Instance] = []
        var all: [String: Instance] = [:]
    }

    private let lists = Mutex(Lists())
    /// Called once for each instance that ends (memory and uid go back).
    private let onEnd: @Sendable (Instance, UInt32?) -> Void

    init(version: FunctionVersion, onEnd: @escaping @Sendable (Instance, UInt32?) -> Void) {
        self.version = version
        self.onEnd = onEnd
    }

    /// An idle instance of the kind, if one is warm (skipping any that
    /// died while idle): the most recently used one served by `loop` if
    /// there is one (its invocation then never leaves the caller's thread),
    /// else the most recently used, except that with `balance` nil is the
    /// answer (start one on `loop`) while `loop` serves fewer of this pool's
    /// instances than the loop of that idle one and another instance is busy
    /// (or starting). With none busy the calls come one at a time: the idle
    /// one is taken wherever it is, as Lambda reuses a warm environment,
    /// rather than making one cold start per loop.
    nonisolated(nonsending) func takeIdle(
        provisioned: Bool, near loop: (any EventLoop)? = nil, balance: Bool = false
    ) async -> Instance? {
        while true {
            let taken = lists.withLock { lists -> Instance? in
                let busy = lists.all.count > lists.idle.count + lists.idleProvisioned.count
                return provisioned
                    ? Self.take(from: &lists.idleProvisioned, all: lists.all, near: loop, balance: false)
                    : Self.take(from: &lists.idle, all: lists.all, near: loop, balance: balance && busy)
            }
            guard let instance = taken else { return nil }
            if instance.isDead {
                await forget(instance)
                continue
            }
            return instance
        }
    }

    /// Removes the last instance of `list` served by `loop`, else its last one unless (with
    /// `balance`) `loop` is behind that one's (in place: no copy of the list per invocation).
    private static func take(
        from list: inout [Instance], all: [String: Instance], near loop: (any EventLoop)?, balance: Bool
    ) -> Instance? {
        guard let last = list.last else { return nil }
        if let loop, let index = list.lastIndex(where: { $0.loop === loop }) { return list.remove(at: index) }
        if balance, isBehind(loop, last.loop, among: all) { return nil }
        return list.removeLast()
    }

    /// Whether `loop` serves fewer of the instances than `other`.
    private static func isBehind(
        _ loop: (any EventLoop)?, _ other: any EventLoop, among all: [String: Instance]
    ) -> Bool {
        guard let loop else { return false }
        var difference = 0
        for instance in all.values {
            if instance.loop === loop { difference -= 1 } else if instance.loop === other { difference += 1 }
        }
        return difference > 0
    }

    func add(_ instance: Instance) {
        lists.withLock { $0.all[instance.id] = instance }
    }

    /// Returns an instance after its invocation: idle again, or gone.
    nonisolated(nonsending) func putBack(_ instance: Instance, freeze: Bool, after delay: Duration = .zero) async {
        if instance.isDead {
            await forget(instance)
            return
        }
        lists.withLock { lists in
            if instance.provisioned { lists.idleProvisioned.append(instance) } else { lists.idle.append(instance) }
        }
        guard freeze else { return }
        if delay > .zero {
            instance.armFreeze(after: delay)
        } else {
            // Off the caller's path: the response is already on its way.
            Task { await instance.freezeIfIdle() }
        }
    }

    /// Drops a dead instance from the books (once: later calls do nothing).
    nonisolated(nonsending) func forget(_ instance: Instance) async {
        let removed = lists.withLock { lists -> Bool in
            guard lists.all.removeValue(forKey: instance.id) != nil else { return false }
            lists.idle.removeAll { $0 === instance }
            lists.idleProvisioned.removeAll { $0 === instance }
            return true
        }
        guard removed else { return }
        onEnd(instance, await instance.uid)
    }

    /// Destroys idle on-demand instances unused for `idleFor`, and any idle
    /// instance older than `maxLifetime` (provisioned ones are replaced by
    /// the supervisor).
    nonisolated(nonsending) func reclaim(idleFor: Duration, maxLifetime: Duration) async -> Int {
        let now = ContinuousClock.now
        let (idle, idleProvisioned) = lists.withLock { ($0.idle, $0.idleProvisioned) }
        var victims: [Instance] = []
        for instance in idle {
            let unused = now - (await instance.lastUsed)
            if unused >= idleFor || now - instance.createdAt >= maxLifetime { victims.append(instance) }
        }
        for instance in idleProvisioned where now - instance.createdAt >= maxLifetime {
            victims.append(instance)
        }
        var reclaimed = 0
        for instance in victims {
            // The awaits above let invocations take instances meanwhile: only one still idle here
            // may go (it leaves the idle lists under the lock, so none can take it after).
            let stillIdle = lists.withLock { lists -> Bool in
                let count = lists.idle.count + lists.idleProvisioned.count
                lists.idle.removeAll { $0 === instance }
                lists.idleProvisioned.removeAll { $0 === instance }
                return lists.idle.count + lists.idleProvisioned.count < count
            }
            guard stillIdle else { continue }
            await instance.destroy(reason: "reclaimed")
            await forget(instance)
            reclaimed += 1
        }
        return reclaimed
    }

    /// The idle on-demand instance used longest ago (first in the stack).
    func leastRecentlyUsedIdle() -> Instance? { lists.withLock { $0.idle.first } }

    /// Destroys an idle instance to free its memory; false if it is no
    /// longer idle here.
    nonisolated(nonsending) func evict(_ instance: Instance) async -> Bool {
        let taken = lists.withLock { lists -> Bool in
            guard let index = lists.idle.firstIndex(where: { $0 === instance }) else { return false }
            lists.idle.remove(at: index)
            return true
        }
        guard taken else { return false }
        await instance.destroy(reason: "evicted for memory")
        await forget(instance)
        return true
    }

    /// Destroys every instance (shutdown, deleted function).
    nonisolated(nonsending) func destroyAll(reason: String) async {
        for instance in instances {
            await instance.destroy(reason: reason)
            await forget(instance)
        }
    }

    /// Destroys the idle instances, provisioned or not; busy ones end when their invocation does
    /// (their pool is no longer the supervisor's, so ``Supervisor/keepOrDestroy`` does not keep them).
    nonisolated(nonsending) func destroyIdle(reason: String) async {
        let idle = lists.withLock { lists -> [Instance] in
            let idle = lists.idle + lists.idleProvisioned
            lists.idle.removeAll()
            lists.idleProvisioned.removeAll()
            return idle
        }
        for instance in idle {
            await instance.destroy(reason: reason)
            await forget(instance)
        }
    }

    /// Destroys idle provisioned instances beyond `count` (a lowered
    /// provisioned concurrency); busy ones end when their invocation does.
    nonisolated(nonsending) func trimProvisioned(to count: Int) async {
        while let instance = lists.withLock({ lists -> Instance? in
            guard lists.all.values.filter(\.provisioned).count > count else { return nil }
            return lists.idleProvisioned.popLast()
        }) {
            await instance.destroy(reason: "provisioned concurrency lowered")
            await forget(instance)
        }
    }

    /// Provisioned instances alive (idle or busy).
    var provisionedCount: Int {
        lists.withLock { $0.all.values.filter(\.provisioned).count }
    }

    var instances: [Instance] { lists.withLock { Array($0.all.values) } }
}
