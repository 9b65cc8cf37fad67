import CCap
import CWarrenSandbox
import Foundation
import Glibc

/// Starts confined processes. See `wrn_spawn.h` for the parent/child protocol.
package enum Sandbox {
    /// Namespaces of every sandbox: pid, mount, uts, ipc, net, cgroup.
    static let namespaces: Int32 = wrn_sandbox_namespaces()

    /// Spawns `spec` and returns once its payload has exec'd.
    ///
    /// Call from a long-lived thread: the child's `PR_SET_PDEATHSIG` fires
    /// when the thread that cloned it exits (see `SpawnThread`).
    /// - Throws: `SpawnError` naming the failed step and its subject.
    package static func spawn(_ spec: SandboxSpec) throws -> SandboxProcess {
        guard let program = spec.argv.first, !program.isEmpty else {
            throw SpawnError.invalidSpec("empty argv")
        }
        guard spec.uid != 0, spec.gid != 0 else {
            throw SpawnError.invalidSpec("the payload never runs as uid or gid 0")
        }
        if spec.seccomp?.usesNotify == true, spec.notifySocket == nil {
            // The listener would be the payload's own to answer; it must
            // first be handed to the supervisor (`warren policy test`).
            throw SpawnError.invalidSpec("SCMP_ACT_NOTIFY needs a supervisor-side listener, which warren run does not provide")
        }
        let plan = try MountPlan(spec: spec)
        var fds = SpawnFDs()
        defer { fds.closeAll() }
        do {
            try fds.prepare(spec)
        } catch let error as SystemError {
            throw SpawnError.prepare(error)
        }
        let arena = CArena()
        var req = try request(spec, plan: plan, fds: fds, arena: arena)
        var result = wrn_spawn_result()
        fds.errWrite = -1  // wrn_spawn closes it in the parent
        if wrn_spawn(&req, &result) != 0 {
            let record = result.err
            let step = SpawnStep(rawValue: record.step) ?? .sync
            throw SpawnError.childSetup(
                step: step, errno: record.err, subject: subject(step, index: record.index, spec: spec, plan: plan))
        }
        return SandboxProcess(
            pid: result.pid, pidfd: result.pidfd, statusFD: fds.takeStatusRead(),
            stdin: fds.takeParentEnd(0), stdout: fds.takeParentEnd(1), stderr: fds.takeParentEnd(2),
            cgroup: spec.cgroup)
    }

    private static func request(
        _ spec: SandboxSpec, plan: MountPlan, fds: SpawnFDs, arena: CArena
    ) throws -> wrn_spawn_req {
        var req = wrn_spawn_req()
        req.clone_flags = namespaces
        req.netns_fd = fds.netns
        req.cgroup_procs_fds = UnsafePointer(arena.array(fds.cgroupProcs))
        req.n_cgroup_procs = Int32(fds.cgroupProcs.count)
        req.rootfs = UnsafePointer(arena.string(spec.rootfs))
        req.rootfs_overlay = arena.optionalString(EmptyLayer.overlayOptions(lower: spec.rootfs))
        req.mounts = UnsafePointer(arena.array(plan.entries.map { entry in
            wrn_mount(kind: entry.kind, options: entry.bindRemount ? WRN_MOUNT_F_BIND : 0,
                      source: arena.optionalString(entry.source), target: UnsafePointer(arena.string(entry.target)),
                      data: arena.optionalString(entry.data), flags: entry.flags)
        }))
        req.n_mounts = Int32(plan.entries.count)
        req.rootfs_readonly = 1
        if case .none = spec.network { req.loopback_up = 0 } else { req.loopback_up = 1 }
        req.hostname = arena.optionalString(spec.hostname)
        req.sched_batch = spec.batchScheduling ? 1 : 0
        req.rlimits = UnsafePointer(arena.array(spec.rlimits.map {
            wrn_rlimit(resource: $0.resource, soft: $0.soft, hard: $0.hard)
        }))
        req.n_rlimits = Int32(spec.rlimits.count)
        req.uid = spec.uid
        req.gid = spec.gid
        req.last_cap = Int32(cap_max_bits()) - 1
        req.no_new_privs = 1
        req.stdin_fd = fds.child[0]
        req.stdout_fd = fds.child[1]
        req.stderr_fd = fds.child[2]
        let pass = [fds.errWrite, fds.statusWrite, fds.bpf, spec.notifySocket ?? -1].filter { $0 >= 0 } + spec.passFDs
        req.pass_fds = UnsafePointer(arena.array(pass))
        req.n_pass_fds = Int32(pass.count)
        req.cwd = arena.optionalString(spec.cwd)
        req.init_fd = try InitBinary.fd()
        let flags = spec.seccomp?.loadFlags ?? 0
        // NOTIFY_FD is optional in warren-init's argv, so every other spawn keeps the old form.
        let notify = spec.notifySocket.map { [String($0)] } ?? []
        let initArgv = ["warren-init", String(fds.errWrite), String(fds.statusWrite), String(fds.bpf), String(flags)]
            + notify + ["--", spec.argv[0]] + spec.argv
        req.init_argv = UnsafePointer(arena.stringArray(initArgv))
        req.envp = UnsafePointer(arena.stringArray(spec.environment))
        req.err_read_fd = fds.errRead
        req.err_fd = fds.errWrite
        return req
    }

    /// What a failed step acted on, for "mount /var/task: ENOENT".
    private static func subject(_ step: SpawnStep, index: Int32, spec: SandboxSpec, plan: MountPlan) -> String? {
        let i = Int(index)
        switch step {
        case .mount where plan.entries.indices.contains(i): return plan.entries[i].inside
        case .bindRoot, .remountRoot, .pivotRoot: return spec.rootfs
        case .rlimit where spec.rlimits.indices.contains(i): return "resource \(spec.rlimits[i].resource)"
        case .cgroup where (spec.cgroup?.procsPaths.indices.contains(i)) ?? false: return spec.cgroup!.procsPaths[i]
        case .exec: return spec.argv[0]
        case .chdir: return spec.cwd
        case .hostname: return spec.hostname
        default: return nil
        }
    }
}

/// The static pid-1 program, opened once with O_PATH and run by execveat().
enum InitBinary {
    private static let opened: Result<Int32, SystemError> = {
        let path = Self.path
        let fd = wrn_open_path(path)
        return fd >= 0 ? .success(fd) : .failure(SystemError("open \(path)", errno: errno))
    }()

    /// `$WARREN_INIT`, else the resource built by the StaticBinaries plugin.
    static var path: String {
        if let env = ProcessInfo.processInfo.environment["WARREN_INIT"], !env.isEmpty { return env }
        return Bundle.module.url(forResource: "warren-init", withExtension: nil)?.path ?? "warren-init"
    }

    static func fd() throws -> Int32 {
        do { return try opened.get() } catch { throw SpawnError.prepare(error) }
    }
}
