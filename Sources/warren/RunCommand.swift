import ArgumentParser
import Foundation
import Glibc
import WarrenPolicy
import WarrenSandbox

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command confined, like bwrap or nsjail.",
        discussion: """
            CMD runs as pid 2 under a small init, in new pid, mount, uts, ipc, net and cgroup \
            namespaces, on a read-only root filesystem with a fresh /proc, a minimal /dev and a \
            tmpfs /tmp, as an unprivileged uid with no capabilities, no_new_privs and the \
            policy's seccomp filter, inside its own cgroup. Its stdout and stderr stream through. \
            warren exits with CMD's status, or 128+N when a signal N killed it, and leaves no \
            process, cgroup or mount behind, also when interrupted.

            Example:
              warren run --memory 64 --bind ./build:/var/task -- /var/task/bootstrap
            """
    )

    @Option(name: .long, help: ArgumentHelp("Seccomp policy (OCI/Docker JSON).", valueName: "FILE"))
    var policy: String?

    @Option(name: .long, help: ArgumentHelp("Root filesystem, mounted read-only (default: the built provided.al2023).", valueName: "DIR"))
    var rootfs: String?

    @Option(name: .long, help: ArgumentHelp("Bind SRC on the host to DST inside, read-only unless :rw. DST must exist in the rootfs. Repeatable.", valueName: "SRC:DST[:rw]"))
    var bind: [String] = []

    @Option(name: .long, help: ArgumentHelp("Memory limit in MiB, swap off; over it the OOM killer ends CMD.", valueName: "MB"))
    var memory: Int = 128

    @Option(name: .long, help: ArgumentHelp("Maximum number of processes and threads.", valueName: "N"))
    var pids: Int = 1024

    @Option(name: .long, help: ArgumentHelp("Size of the tmpfs on /tmp in MiB.", valueName: "MB"))
    var tmp: Int = 512

    @Option(name: .long, help: ArgumentHelp("CPU quota in cores, e.g. 0.5 (default: no quota).", valueName: "N"))
    var cpu: Double?

    @Option(name: .long, help: ArgumentHelp("Kill CMD after S seconds (fractions allowed).", valueName: "S"))
    var timeout: Double?

    @Option(name: .long, help: ArgumentHelp("Set an environment variable inside. Repeatable.", valueName: "K=V"))
    var env: [String] = []

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "CMD"))
    var command: [String] = []

    func validate() throws {
        guard !argv.isEmpty else { throw ValidationError("missing CMD: warren run [OPTIONS] -- CMD [ARG...]") }
        guard memory > 0, pids > 0, tmp > 0 else { throw ValidationError("--memory, --pids and --tmp must be positive") }
        if let cpu, !(cpu > 0 && cpu.isFinite) { throw ValidationError("--cpu must be a positive number") }
        if let timeout, !(timeout > 0 && timeout.isFinite) { throw ValidationError("--timeout must be a positive number") }
        for e in env where !e.contains("=") { throw ValidationError("--env wants K=V, got '\(e)'") }
        _ = try binds()
    }

    var argv: [String] { command }

    func binds() throws -> [BindMount] {
        try BindMount.parsing(options: bind)
    }

    func run() throws {
        let runner = Runner(
            policyPath: policy ?? Defaults.policy,
            rootfs: rootfs ?? Defaults.rootfs("provided.al2023"),
            binds: try binds(),
            limits: CgroupLimits(memoryBytes: UInt64(memory) << 20, pidsMax: pids, cpus: cpu),
            tmpSizeMB: tmp, timeout: timeout,
            environment: ["PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin", "HOME=/tmp", "LANG=C.UTF-8"] + env,
            argv: argv)
        do {
            let code = try runner.run()
            throw ExitCode(code)
        } catch let error as ExitCode {
            throw error
        } catch {
            StandardStreams.error("warren: \(error)\n")
            throw ExitCode(125)
        }
    }
}
