import Foundation
import Testing

/// `warren policy test` and `warren policy learn` on real programs, in real sandboxes.
@Suite(.serialized)
struct PolicyAuditTests {
    static let defaultPolicy = PolicyCheckDiffTests.defaultPolicy
    static var probe: [String] { ["--bind", "\(CLI.probeDir):/var/task", "--", "/var/task/probe"] }
    static let pythonRootfs = PolicyCheckDiffTests.repo + "/rootfs/out/python3.11"

    /// Learns a policy from `args` (options, --, CMD) and stores it in a temporary file.
    func learn(_ args: [String]) throws -> String {
        let r = try CLI.run(["policy", "learn"] + args)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"execve\""), "execve, made by warren-init after the load, is learned")
        let path = try PolicyCheckDiffTests.file(r.stdout, "learned.json")
        let check = try CLI.run(["policy", "check", path])
        #expect(check.status == 0, "\(check.stdout)")
        return path
    }

    @Test func auditReportsADeniedCallAndLetsTheProgramComplete() throws {
        let r = try CLI.run(["policy", "test", Self.defaultPolicy] + Self.probe + ["syscall", "bpf", "getcwd"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("bpf errno=EINVAL"), "the call ran: the kernel, not the filter, answered")
        #expect(r.stdout.contains("would deny 1 system call (audit mode; CMD exited 0)"))
        #expect(r.stdout.contains("  bpf      1      ERRNO(EPERM)  0x0 0x0 0x0"))
    }

    /// Kills and traps, enforced by the tracer, end the payload as the real filter would.
    @Test func enforcedKillsAndTrapsEndThePayload() throws {
        let policy = try PolicyCheckDiffTests.file("""
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
              {"names": ["getcwd"], "action": "SCMP_ACT_KILL_PROCESS"},
              {"names": ["bpf"], "action": "SCMP_ACT_TRAP"}]}
            """, "kill-trap.json")
        // The probe makes each call in a child of its own and reports how that child ended.
        let killed = try CLI.run(["policy", "test", "--enforce", policy] + Self.probe + ["syscall", "getcwd"])
        #expect((killed.stdout + killed.stderr).contains("getcwd killed=SIGKILL"), "\(killed.stdout)\(killed.stderr)")
        #expect(killed.stdout.contains("  getcwd   1      KILL_PROCESS"), "\(killed.stdout)")
        let trapped = try CLI.run(["policy", "test", "--enforce", policy] + Self.probe + ["syscall", "bpf"])
        #expect((trapped.stdout + trapped.stderr).contains("bpf killed=SIGSYS"), "\(trapped.stdout)\(trapped.stderr)")
        #expect(trapped.stdout.contains("  bpf      1      TRAP"), "\(trapped.stdout)")
    }

    /// The listener, the fallback where Warren cannot enforce through ptrace, kept working here.
    @Test func theListenerFallbackAuditsAndEnforces() throws {
        let audit = try CLI.run(["policy", "test", "--listener", Self.defaultPolicy] + Self.probe + ["syscall", "bpf"])
        #expect(audit.status == 0, "\(audit.stderr)")
        #expect(audit.stdout.contains("bpf errno=EINVAL") && audit.stdout.contains("  bpf      1      ERRNO(EPERM)"))
        let enforced = try CLI.run(["policy", "test", "--listener", "--enforce", "--output", "json", Self.defaultPolicy]
            + Self.probe + ["syscall", "bpf"])
        #expect(enforced.stderr.contains("bpf errno=EPERM"), "\(enforced.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(enforced.stdout.utf8)) as? [String: Any])
        #expect(report["mechanism"] as? String == "seccomp user notification")
    }

    @Test func enforceAppliesTheActionAndReportsIt() throws {
        let r = try CLI.run(["policy", "test", "--enforce", "--output", "json", Self.defaultPolicy]
            + Self.probe + ["syscall", "bpf"])
        #expect(r.status == 0)
        #expect(r.stderr.contains("bpf errno=EPERM"))
        let report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let rows = try #require(report["syscalls"] as? [[String: Any]])
        #expect(report["mode"] as? String == "enforce")
        #expect(report["mechanism"] as? String == "ptrace")  // x86_64: the tracer skips the call
        #expect(rows.count == 1 && rows[0]["syscall"] as? String == "bpf" && rows[0]["count"] as? Int == 1)
    }

    @Test func shellUnshareIsReportedAndTheScriptGoesOn() throws {
        let r = try CLI.run(["policy", "test", Self.defaultPolicy, "--", "/bin/sh", "-c", "unshare -U true; echo done"])
        #expect(r.stdout.contains("done\n"))
        #expect(r.stdout.contains("  unshare "), "\(r.stdout)\(r.stderr)")
    }

    @Test func aLearnedPolicyRunsTheStaticProgramAndDeniesAnythingElse() throws {
        let policy = try learn(Self.probe + ["exit", "0"])
        let again = try CLI.run(["policy", "test", "--enforce", policy] + Self.probe + ["exit", "0"])
        #expect(again.status == 0)
        #expect(again.stdout.contains("denied 0 system calls"), "\(again.stdout)")
        let extra = try CLI.run(["policy", "test", policy] + Self.probe + ["syscall", "getcwd"])
        #expect(extra.stdout.contains("  getcwd "), "\(extra.stdout)")
    }

    @Test func aLearnedPolicyRunsAShellPipeline() throws {
        let script = "echo a | cat | wc -c"
        let policy = try learn(["--", "/bin/sh", "-c", script])
        let run = try CLI.run(["run", "--policy", policy, "--", "/bin/sh", "-c", script])
        #expect(run.status == 0 && run.stdout == "2\n", "\(run.stderr)")
        let extra = try CLI.run(["run", "--policy", policy, "--", "/bin/sh", "-c", "\(script); mkdir /tmp/x"])
        #expect(extra.status != 0)
        #expect(extra.stderr.contains("Operation not permitted"), "\(extra.stderr)")
    }

    /// Signals reach a traced program as they would an untraced one: a handler runs, a stopped
    /// process stays stopped until SIGCONT (its state reads "t (tracing stop)", as under
    /// strace, rather than "T (stopped)"), a terminating signal terminates.
    @Test func signalsAndStopsPassThroughTheTracer() throws {
        let script = """
            trap 'echo usr1' USR1; kill -USR1 $$
            sleep 30 & p=$!; kill -STOP $p; sleep 0.2
            grep -q '^State:.*stop' /proc/$p/status && echo stopped
            kill -CONT $p; sleep 0.2
            grep -q '^State:.*sleeping' /proc/$p/status && echo sleeping
            kill -TERM $p; wait $p; echo "status $?"
            """
        let r = try CLI.run(["policy", "test", "--timeout", "10", Self.defaultPolicy, "--", "/bin/sh", "-c", script])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("usr1\nstopped\nsleeping\nstatus 143\n"), "\(r.stdout)")
    }

    @Test func aLearnedPolicyRunsPythonWithLoopbackSockets() throws {
        // `make test` builds the python3.11 rootfs first: its absence is a failure, not a skip.
        try #require(FileManager.default.fileExists(atPath: Self.pythonRootfs + "/usr/bin/python3"),
                     "no python3.11 runtime rootfs: run `make rootfs`")
        let code = "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); "
            + "c=socket.create_connection(s.getsockname()); a,_=s.accept(); c.sendall(b'hi'); print(a.recv(2).decode())"
        let policy = try learn(["--rootfs", Self.pythonRootfs, "--", "python3", "-c", code])
        let run = try CLI.run(["run", "--rootfs", Self.pythonRootfs, "--policy", policy, "--", "python3", "-c", code])
        #expect(run.status == 0 && run.stdout == "hi\n", "\(run.stderr)")
        let extra = try CLI.run(["policy", "test", "--enforce", "--rootfs", Self.pythonRootfs, policy, "--",
                                 "python3", "-c", code + "; import os; os.mkdir('/tmp/x')"])
        #expect(extra.status == 1)
        #expect(extra.stdout.contains("  mkdir "), "\(extra.stdout)")
    }

    /// Threads (clone3 under this glibc) are learned as the default policy holds them: clone
    /// without namespace flags, clone3 answered ENOSYS so that libc falls back to clone; the
    /// program still runs, and `policy check` finds no namespace-making clone.
    @Test func aLearnedPolicyMakesThreadsButNoNamespaces() throws {
        try #require(FileManager.default.fileExists(atPath: Self.pythonRootfs + "/usr/bin/python3"),
                     "no python3.11 runtime rootfs: run `make rootfs`")
        let code = "import threading; t=threading.Thread(target=print, args=('thread',)); t.start(); t.join()"
        let policy = try learn(["--rootfs", Self.pythonRootfs, "--", "python3", "-c", code])
        let text = try String(contentsOfFile: policy, encoding: .utf8)
        let masked = #"{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}"#
        #expect(text.contains(masked), "\(text)")
        let run = try CLI.run(["run", "--rootfs", Self.pythonRootfs, "--policy", policy, "--", "python3", "-c", code])
        #expect(run.status == 0 && run.stdout == "thread\n", "\(run.stderr)")
        let check = try CLI.run(["policy", "check", policy])
        #expect(check.stdout.contains("dangerous system calls allowed: none"), "\(check.stdout)")
        // A user namespace asked of clone3 (clone_args: flags CLONE_NEWUSER, exit_signal SIGCHLD) and of
        // clone (CLONE_NEWUSER | SIGCHLD): ENOSYS and EPERM under the learned policy. A child made
        // (the calls fork when given no stack) would leave at once and the parent print "made".
        let userns = """
            import ctypes, os, struct
            libc = ctypes.CDLL(None, use_errno=True)
            def report(r):
                if r == 0: os._exit(0)
                print("made" if r > 0 else -ctypes.get_errno())
            args = ctypes.create_string_buffer(struct.pack("8Q", 0x10000000, 0, 0, 0, 17, 0, 0, 0))
            report(libc.syscall(435, args, 64))
            report(libc.syscall(56, 0x10000011, 0, 0, 0, 0))
            """
        let denied = try CLI.run(
            ["run", "--rootfs", Self.pythonRootfs, "--policy", policy, "--", "python3", "-c", userns])
        #expect(denied.stdout == "-38\n-1\n", "\(denied.stdout)\(denied.stderr)")
    }

    /// A run that made a namespace with clone keeps clone unrestricted, and says so.
    @Test func aRunThatMadeANamespaceLearnsCloneForAnyFlags() throws {
        try #require(FileManager.default.fileExists(atPath: Self.pythonRootfs + "/usr/bin/python3"),
                     "no python3.11 runtime rootfs: run `make rootfs`")
        let code = "import ctypes,os; r=ctypes.CDLL(None).syscall(56, 0x10000011, 0, 0, 0, 0); "
            + "os._exit(0) if r == 0 else (os.waitpid(r, 0) if r > 0 else None)"
        let r = try CLI.run(["policy", "learn", "--rootfs", Self.pythonRootfs, "--", "python3", "-c", code])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("CMD created namespaces with clone: the policy allows clone with any flags"))
        #expect(!r.stdout.contains("SCMP_CMP_MASKED_EQ") && r.stdout.contains(#""clone""#), "\(r.stdout)")
    }

    /// While learning, clone3 gets the ENOSYS the learned policy will give it: a program that
    /// needs clone3 fails then, not only later under the policy.
    @Test func learnAnswersClone3AsTheLearnedPolicyWill() throws {
        try #require(FileManager.default.fileExists(atPath: Self.pythonRootfs + "/usr/bin/python3"),
                     "no python3.11 runtime rootfs: run `make rootfs`")
        let code = "import ctypes, struct; libc = ctypes.CDLL(None, use_errno=True); "
            + "a = ctypes.create_string_buffer(struct.pack('8Q', 0, 0, 0, 0, 17, 0, 0, 0)); "
            + "r = libc.syscall(435, a, 64); print('clone3', r, ctypes.get_errno())"
        let r = try CLI.run(["policy", "learn", "--rootfs", Self.pythonRootfs, "--", "python3", "-c", code])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("clone3 -1 38"), "\(r.stderr)")
        #expect(r.stdout.contains("\"errnoRet\": 38"), "\(r.stdout)")
    }

    /// SIGINT or SIGTERM to `learn` or `test` kills CMD and ends the run as `warren run` does:
    /// 128 + the signal, learn printing no policy, test its report; nothing left behind.
    @Test func aSignalEndsLearnAndTestAndKillsCMD() throws {
        for (command, signal, status) in [("learn", "INT", 130), ("test \(Self.defaultPolicy)", "TERM", 143)] {
            // The signal goes once CMD runs (Warren blocks signals before it starts CMD).
            let r = try CLI.bash("'\(CLI.warren)' policy \(command) -- /bin/sleep 37 & p=$!; "
                + "for i in $(seq 200); do pgrep -xf '/bin/sleep 37' >/dev/null && break; sleep 0.05; done; "
                + "kill -\(signal) $p; wait $p")
            #expect(r.status == Int32(status), "\(command): \(r.stdout)\(r.stderr)")
            if command == "learn" {
                #expect(r.stdout.isEmpty && r.stderr.contains("interrupted (signal 2)"), "\(r.stdout)\(r.stderr)")
            } else {
                #expect(r.stdout.contains("interrupted by signal 15, CMD killed"), "\(r.stdout)")
            }
        }
        let sleeping = try CLI.bash("ps -eo args | grep -c '^/bin/sleep 37$'")
        #expect(sleeping.stdout == "0\n", "CMD outlived the run")
    }

    @Test func learnOnTopOfABaseAddsOnlyWhatTheBaseDenies() throws {
        let r = try CLI.run(["policy", "learn", "--base", Self.defaultPolicy] + Self.probe + ["syscall", "bpf"])
        #expect(r.status == 0, "\(r.stderr)")
        let learned = try PolicyCheckDiffTests.file(r.stdout)
        let diff = try CLI.run(["policy", "diff", Self.defaultPolicy, learned])
        #expect(diff.status == 1)
        #expect(diff.stdout.contains("allowed by B, denied by A (1):\n  bpf "), "\(diff.stdout)")
    }
}
