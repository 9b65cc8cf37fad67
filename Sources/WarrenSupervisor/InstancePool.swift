import Foundation
import NIOCore

/// The instances of one function version: the idle ones to reuse (last
/// used first, so the warmest runs), and all of them for reclaim and
/// shutdown. Provisioned instances are kept apart: they serve provisioned
/// leases and are never reclaimed for idleness.
actor InstancePool {
    nonisolated let version: FunctionVersion
    private var idle: [Instance] = []
    private var idleProvisioned: [Instance] = []
    private var all: [String: Instance] = [:]
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
    func takeIdle(provisioned: Bool, near loop: (any EventLoop)? = nil, balance: Bool = false) async -> Instance? {
        while true {
            let busy = all.count > idle.count + idleProvisioned.count
            let taken = provisioned ? take(from: &idleProvisioned, near: loop, balance: false)
                : take(from: &idle, near: loop, balance: balance && busy)
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
    private func take(from list: inout [Instance], near loop: (any EventLoop)?, balance: Bool) -> Instance? {
        guard let last = list.last else { return nil }
        if let loop, let index = list.lastIndex(where: { $0.loop === loop }) { return list.remove(at: index) }
        if balance, isBehind(loop, last.loop) { return nil }
        return list.removeLast()
    }

    /// Whether `loop` serves fewer of this pool's instances than `other`.
    private func isBehind(_ loop: (any EventLoop)?, _ other: any EventLoop) -> Bool {
        guard let loop else { return false }
        var difference = 0
        for instance in all.values {
            if instance.loop === loop { difference -= 1 } else if instance.loop === other { difference += 1 }
        }
        return difference > 0
    }

    func add(_ instance: Instance) {
        all[instance.id] = instance
    }

    /// Returns an instance after its invocation: idle again, or gone.
    func putBack(_ instance: Instance, freeze: Bool, after delay: Duration = .zero) async {
        if instance.isDead {
            await forget(instance)
            return
        }
        if instance.provisioned { idleProvisioned.append(instance) } else { idle.append(instance) }
        guard freeze else { return }
        if delay > .zero {
            instance.armFreeze(after: delay)
        } else {
            // Off the caller's path: the response is already on its way.
            Task { await instance.freezeIfIdle() }
        }
    }

    /// Drops a dead instance from the books.
    func forget(_ instance: Instance) async {
        guard all.removeValue(forKey: instance.id) != nil else { return }
        idle.removeAll { $0 === instance }
        idleProvisioned.removeAll { $0 === instance }
        onEnd(instance, await instance.uid)
    }

    /// Destroys idle on-demand instances unused for `idleFor`, and any idle
    /// instance older than `maxLifetime` (provisioned ones are replaced by
    /// the supervisor).
    func reclaim(idleFor: Duration, maxLifetime: Duration) async -> Int {
        let now = ContinuousClock.now
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
            // may go (it leaves the idle lists before the next suspension, so none can take it).
            let count = idle.count + idleProvisioned.count
            idle.removeAll { $0 === instance }
            idleProvisioned.removeAll { $0 === instance }
            guard idle.count + idleProvisioned.count < count else { continue }
            await instance.destroy(reason: "reclaimed")
            await forget(instance)
            reclaimed += 1
        }
        return reclaimed
    }

    /// The idle on-demand instance used longest ago (first in the stack).
    func leastRecentlyUsedIdle() -> Instance? { idle.first }

    /// Destroys an idle instance to free its memory; false if it is no
    /// longer idle here.
    func evict(_ instance: Instance) async -> Bool {
        guard let index = idle.firstIndex(where: { $0 === instance }) else { return false }
        idle.remove(at: index)
        await instance.destroy(reason: "evicted for memory")
        await forget(instance)
        return true
    }

    /// Destroys every instance (shutdown, deleted function).
    func destroyAll(reason: String) async {
        for instance in Array(all.values) {
            await instance.destroy(reason: reason)
            await forget(instance)
        }
    }

    /// Destroys idle provisioned instances beyond `count` (a lowered
    /// provisioned concurrency); busy ones end when their invocation does.
    func trimProvisioned(to count: Int) async {
        while all.values.filter(\.provisioned).count > count, let instance = idleProvisioned.popLast() {
            await instance.destroy(reason: "provisioned concurrency lowered")
            await forget(instance)
        }
    }

    /// Provisioned instances alive (idle or busy).
    var provisionedCount: Int {
        all.values.filter(\.provisioned).count
    }

    var instances: [Instance] { Array(all.values) }
}
