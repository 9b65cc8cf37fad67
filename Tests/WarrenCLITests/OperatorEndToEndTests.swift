import Foundation
import Glibc
import Testing

/// The operator commands against a real `warren serve`: what a person and a
/// script see, and the exit status, for each command.
@Suite(.serialized)
struct OperatorEndToEndTests {
    static let python = """
        import os

        def handler(event, context):
            print("handling", event)
            return {"echo": event, "greeting": os.environ.get("GREETING")}

        def fail(event, context):
            raise ValueError("boom")
        """

    /// A provided.al2023 bootstrap: the Runtime API loop in busybox sh, echoing each event.
    static let echoBootstrap = #"""
        #!/bin/sh
        api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
        while :; do
            headers=$(wget -q -S -O /tmp/event "$api/next" 2>&1) || { sleep 1; continue; }
            id=$(echo "$headers" | grep -i 'lambda-runtime-aws-request-id' | sed 's/.*: *//' | tr -d '\r ')
            echo "echo: $id"
            wget -q -O /dev/null --post-file /tmp/event "$api/$id/response"
        done
        """#

    init() throws {
        for runtime in ["python3.11", "provided.al2023"] {
            let rootfs = OperatorCLI.repo + "/rootfs/out/" + runtime
            try #require(FileManager.default.fileExists(atPath: rootfs + "/bin"), "\(rootfs) missing: run make rootfs")
        }
    }

    /// Runs `body` against a fresh server, then stops it with SIGTERM and expects exit 0.
    func withServer(_ body: (ServeProcess) throws -> Void) throws {
        let server = try ServeProcess()
        defer {
            let status = server.stop()
            #expect(status == 0, "warren serve exited with \(status) on SIGTERM:\n\(server.log)")
        }
        try body(server)
    }

    /// `warren function create hello` (python3.11, GREETING=hi, 256 MB) from a directory.
    func createHello(_ s: ServeProcess, _ extra: [String] = []) throws -> CLI.Result {
        let code = try OperatorCLI.tree(["app.py": (Self.python, 0o644)])
        return try s.warren(["function", "create", "hello", "--runtime", "python3.11", "--handler", "app.handler",
                             "--code-dir", code, "--env", "GREETING=hi", "--memory", "256"] + extra)
    }

    /// Output that cannot be written: a reader gone (`| head -c 0`) ends the command quietly with
    /// 141, as SIGPIPE would; a full device with one line and 5. (Both crashed with a backtrace.)
    @Test func outputThatCannotBeWrittenEndsTheCommandCleanly() throws {
        try withServer { s in
            #expect(try createHello(s).status == 0)
            let command = [CLI.warren, "invoke", "hello", #"{"a": 1}"#, "--endpoint", s.endpoint]
                .map { "'\($0)'" }.joined(separator: " ")
            let errors = try OperatorCLI.temporaryDirectory("stderr") + "/stderr"
            for (redirect, status, stderr) in [
                ("| head -c 0", 141, ""),
                (">/dev/full", 5, "warren: cannot write the output: No space left on device\n"),
            ] {
                let r = try CLI.bash("set -o pipefail; \(command) 2>'\(errors)' \(redirect)")
                #expect(r.status == status, "\(redirect): \(r.stderr)")
                #expect(try String(contentsOfFile: errors, encoding: .utf8) == stderr, "\(redirect)")
            }
        }
    }

    @Test func createGetInvokeListLogsAndDelete() throws {
        try withServer { s in
            let created = try createHello(s, ["--output", "json", "--tag", "team=warren", "--tag", "stage=test"])
            #expect(created.status == 0, "\(created.stderr)")
            #expect(try OperatorCLI.object(created)["FunctionName"] as? String == "hello")
            let again = try createHello(s)
            #expect(again.status == 3)
            #expect(again.stderr.hasPrefix("warren: ResourceConflictException: "), "\(again.stderr)")
            #expect(again.stderr.split(separator: "\n").count == 1)

            let get = try s.warren(["function", "get", "hello"])
            #expect(get.status == 0)
            for text in ["FunctionName", "hello", "python3.11", "app.handler", "256 MB", "GREETING=hi",
                         "stage=test, team=warren"] {
                #expect(get.stdout.contains(text), "get lacks \(text):\n\(get.stdout)")
            }

            let invoked = try s.warren(["invoke", "hello", #"{"a": 1}"#, "--tail"])
            #expect(invoked.status == 0, "\(invoked.stderr)")
            let payload = try OperatorCLI.object(invoked)
            #expect(payload["greeting"] as? String == "hi")
            #expect((payload["echo"] as? [String: Any])?["a"] as? Int == 1)
            #expect(invoked.stderr.contains("START RequestId:"), "\(invoked.stderr)")
            #expect(invoked.stderr.contains("handling {'a': 1}"), "\(invoked.stderr)")
            let piped = try s.warren(["invoke", "hello", "--payload-file", "-"], stdin: #"{"b": 2}"#)
            #expect(try (OperatorCLI.object(piped)["echo"] as? [String: Any])?["b"] as? Int == 2)

            let table = try s.warren(["function", "list"])
            #expect(table.stdout.hasPrefix("NAME"), "\(table.stdout)")
            #expect(table.stdout.contains("hello"))
            let logs = try s.warren(["logs", "hello"])
            #expect(logs.status == 0)
            #expect(logs.stdout.contains("START RequestId:") && logs.stdout.contains("REPORT RequestId:"), "\(logs.stdout)")
            // JSON Lines: one {"message": …} per line of the log.
            let records = try s.warren(["logs", "hello", "--output", "json"]).stdout.split(separator: "\n").map {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            #expect(records.count == logs.stdout.split(separator: "\n", omittingEmptySubsequences: false).count - 1)
            #expect(records.contains { ($0?["message"] as? String)?.hasPrefix("START RequestId:") == true })

            // A stored value with control characters reaches the terminal escaped: it can neither
            // break the table nor send escape sequences (clear the screen, recolour it).
            let hostile = "evil\u{1b}[2J\u{1b}[31mRED\nsecond line"
            #expect(try s.warren(["function", "update", "hello", "--description", hostile]).status == 0)
            let shown = try s.warren(["function", "get", "hello"])
            #expect(!shown.stdout.contains("\u{1b}") && shown.stdout.contains(#"evil\x1b[2J\x1b[31mRED\nsecond line"#),
                    "\(shown.stdout)")
            let oneLine = try s.warren(["function", "get", "a\nb"])
            #expect(oneLine.status != 0 && oneLine.stderr.split(separator: "\n").count == 1, "\(oneLine.stderr)")

            // JSON logging: Lambda's lines become JSON events, the runtime logs at the level given.
            let json = try s.warren(["function", "update", "hello", "--log-format", "json", "--log-level", "warn"])
            #expect(json.status == 0, "\(json.stderr)")
            let jsonInvoked = try s.warren(["invoke", "hello", "{}", "--tail"])
            #expect(jsonInvoked.stderr.contains(#""type":"platform.start""#) && !jsonInvoked.stderr.contains("END "),
                    "\(jsonInvoked.stderr)")

            #expect(try s.warren(["function", "delete", "hello"]).status == 0)
            let gone = try s.warren(["function", "get", "hello"])
            #expect(gone.status == 3)
            #expect(gone.stderr.hasPrefix("warren: ResourceNotFoundException: "), "\(gone.stderr)")
        }
    }

    /// What a function prints reaches the operator's terminal with its control characters shown
    /// as escapes (it could set the terminal's title, clear it, write its clipboard); a pipe or a
    /// file gets the bytes as they are. (`script` gives the command a terminal.)
    @Test func aFunctionsEscapeSequencesDoNotReachTheTerminal() throws {
        try withServer { s in
            let code = try OperatorCLI.tree(["bootstrap": ("#!/bin/sh\nprintf '\\033]0;pwned\\007\\033[2Jshown\\n'\nexit 1\n", 0o755)])
            #expect(try s.warren(["function", "create", "esc", "--runtime", "provided.al2023", "--handler", "x",
                                  "--code-dir", code]).status == 0)
            #expect(try s.warren(["invoke", "esc"]).status == 1)
            let piped = try s.warren(["logs", "esc"])
            #expect(piped.stdout.contains("\u{1b}]0;pwned\u{07}\u{1b}[2Jshown\n"), "\(piped.stdout)")
            let command = [CLI.warren, "logs", "esc", "--endpoint", s.endpoint].joined(separator: " ")
            let terminal = try CLI.bash("script -qec '\(command)' /dev/null")
            #expect(terminal.status == 0, "\(terminal.stderr)")
            #expect(!terminal.stdout.contains("\u{1b}") && terminal.stdout.contains(#"\x1b]0;pwned\x07\x1b[2Jshown"#),
                    "\(terminal.stdout)")
        }
    }

    @Test func versionsAndAliases() throws {
        try withServer { s in
            #expect(try createHello(s).status == 0)
            let published = try s.warren(["publish", "hello", "--description", "first", "--output", "json"])
            #expect(try OperatorCLI.object(published)["Version"] as? String == "1", "\(published.stderr)")
            let alias = try s.warren(["alias", "create", "hello", "live", "--version", "1", "--output", "json"])
            #expect(try OperatorCLI.object(alias)["FunctionVersion"] as? String == "1", "\(alias.stderr)")

            let updated = try s.warren(["function", "update", "hello", "--env", "GREETING=bye", "--publish"])
            #expect(updated.status == 0, "\(updated.stderr)")
            #expect(updated.stdout.contains("GREETING=bye"), "\(updated.stdout)")
            let live = { try OperatorCLI.object(try s.warren(["invoke", "hello", "--qualifier", "live"]))["greeting"] }
            #expect(try live() as? String == "hi")
            let moved = try s.warren(["alias", "update", "hello", "live", "--version", "2"])
            #expect(moved.status == 0, "\(moved.stderr)")
            #expect(try live() as? String == "bye")

            let aliases = try s.warren(["alias", "list", "hello", "--output", "json"])
            #expect(try OperatorCLI.array(aliases).map { $0["Name"] as? String } == ["live"])
            #expect(try s.warren(["alias", "list", "hello"]).stdout.hasPrefix("ALIAS"))
            let versions = try s.warren(["function", "list", "--all-versions", "--output", "json"])
            #expect(Set(try OperatorCLI.array(versions).compactMap { $0["Version"] as? String }) == ["$LATEST", "1", "2"])

            let pinned = try s.warren(["function", "delete", "hello", "--qualifier", "2"])
            #expect(pinned.status == 3, "version 2 is what live points to")
            #expect(pinned.stderr.hasPrefix("warren: ResourceConflictException: "), "\(pinned.stderr)")
            #expect(try s.warren(["alias", "delete", "hello", "live"]).status == 0)
            #expect(try s.warren(["function", "delete", "hello", "--qualifier", "2"]).status == 0)
            let left = try s.warren(["function", "list", "--all-versions", "--output", "json"])
            #expect(Set(try OperatorCLI.array(left).compactMap { $0["Version"] as? String }) == ["$LATEST", "1"])
        }
    }

    @Test func logsFollowPrintsInvocationsAsTheyHappen() throws {
        try withServer { s in
            #expect(try createHello(s).status == 0)
            let out = try OperatorCLI.temporaryDirectory("warren-follow") + "/out"
            _ = FileManager.default.createFile(atPath: out, contents: nil)
            let follow = Process()
            follow.executableURL = URL(fileURLWithPath: CLI.warren)
            follow.arguments = ["logs", "hello", "--follow", "--endpoint", s.endpoint]
            follow.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
            follow.standardError = follow.standardOutput
            try follow.run()
            defer {
                kill(follow.processIdentifier, SIGTERM)
                follow.waitUntilExit()
            }
            let text = { (try? String(contentsOfFile: out, encoding: .utf8)) ?? "" }
            for n in 1...2 {
                #expect(try s.warren(["invoke", "hello", "{\"n\": \(n)}"]).status == 0)
                #expect(CLI.eventually(60) { text().contains("handling {'n': \(n)}") }, "\(text())")
            }
            #expect(follow.isRunning, "--follow stopped by itself:\n\(text())")
        }
    }

    @Test func aFailingFunctionExitsWith1AndPrintsItsError() throws {
        let code = try OperatorCLI.tree(["app.py": (Self.python, 0o644)])
        try withServer { s in
            let created = try s.warren(["function", "create", "broken", "--runtime", "python3.11", "--handler",
                                        "app.fail", "--code-dir", code])
            #expect(created.status == 0, "\(created.stderr)")
            let r = try s.warren(["invoke", "broken"])
            #expect(r.status == 1)
            let error = try OperatorCLI.object(r)
            #expect(error["errorType"] as? String == "ValueError")
            #expect(error["errorMessage"] as? String == "boom")
            #expect(r.stderr == "warren: the function failed (X-Amz-Function-Error: Unhandled)\n")
            let missing = try s.warren(["invoke", "nosuchfunction"])
            #expect(missing.status == 3)
            #expect(missing.stderr.hasPrefix("warren: ResourceNotFoundException: "), "\(missing.stderr)")
        }
    }

    @Test func aDirectoryZipsWithItsModesAndToTheSameBytesEachTime() throws {
        let code = try OperatorCLI.tree(["bootstrap": (Self.echoBootstrap, 0o755), "data/note.txt": ("hi", 0o644)])
        let zip = try OperatorCLI.temporaryDirectory("warren-zip") + "/echo.zip"
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", """
            import sys, zipfile
            info = zipfile.ZipInfo("bootstrap")
            info.external_attr = 0o100755 << 16
            with zipfile.ZipFile(sys.argv[1], "w") as z:
                z.writestr(info, open(sys.argv[2]).read())
            """, zip, code + "/bootstrap"]
        try python.run()
        python.waitUntilExit()
        try #require(python.terminationStatus == 0)
        try withServer { s in
            let fromZip = try s.warren(["function", "create", "zipped", "--runtime", "provided.al2023", "--handler", "bootstrap",
                                         "--zip", zip])
            #expect(fromZip.status == 0, "\(fromZip.stderr)")
            #expect(try s.warren(["invoke", "zipped", "[1, 2]"]).stdout == "[1, 2]")

            var sha: [String] = []
            for name in ["echo", "echo2"] {
                // A touched file is the same code: its time must not change the zip.
                try FileManager.default.setAttributes(
                    [.modificationDate: Date(timeIntervalSinceNow: name == "echo" ? -3600 : 0)],
                    ofItemAtPath: code + "/data/note.txt")
                let r = try s.warren(["function", "create", name, "--runtime", "provided.al2023", "--handler", "bootstrap",
                                      "--code-dir", code, "--output", "json"])
                #expect(r.status == 0, "\(r.stderr)")
                sha.append(try OperatorCLI.object(r)["CodeSha256"] as? String ?? "")
            }
            #expect(sha[0] == sha[1] && !sha[0].isEmpty, "zipping the same tree twice gave \(sha)")
            let r = try s.warren(["invoke", "echo", #"{"x": 1}"#])
            #expect(r.status == 0, "\(r.stderr)\n\(s.log)")
            #expect(r.stdout == #"{"x": 1}"#)
            let event = try s.warren(["invoke", "echo", "{}", "--type", "Event"])
            #expect(event.status == 0 && event.stdout.isEmpty, "\(event.stderr)")
            let dry = try s.warren(["invoke", "echo", "{}", "--type", "DryRun"])
            #expect(dry.status == 0 && dry.stdout.isEmpty, "\(dry.stderr)")
        }
    }

    @Test func concurrencyProvisionedInstancesAndAccount() throws {
        let code = try OperatorCLI.tree(["bootstrap": (Self.echoBootstrap, 0o755)])
        try withServer { s in
            #expect(try s.warren(["function", "create", "echo", "--runtime", "provided.al2023", "--handler", "bootstrap",
                                  "--code-dir", code, "--publish"]).status == 0)

            let set = try s.warren(["concurrency", "set", "echo", "5", "--output", "json"])
            #expect(try OperatorCLI.object(set)["ReservedConcurrentExecutions"] as? Int == 5, "\(set.stderr)")
            let get = try s.warren(["concurrency", "get", "echo"])
            #expect(get.stdout.contains("ReservedConcurrentExecutions  5"), "\(get.stdout)")
            #expect(try s.warren(["concurrency", "delete", "echo"]).status == 0)
            let unset = try s.warren(["concurrency", "get", "echo"])
            #expect(unset.stdout.contains("none"), "\(unset.stdout)")
            let tooMuch = try s.warren(["concurrency", "set", "echo", "100000"])
            #expect(tooMuch.status == 3)
            #expect(tooMuch.stderr.hasPrefix("warren: InvalidParameterValueException: "), "\(tooMuch.stderr)")

            let ready = try s.warren(["provisioned", "set", "echo", "1", "2", "--wait", "--output", "json"])
            #expect(ready.status == 0, "\(ready.stderr)")
            let config = try OperatorCLI.object(ready)
            #expect(config["Status"] as? String == "READY")
            #expect(config["AvailableProvisionedConcurrentExecutions"] as? Int == 2)
            let shown = try s.warren(["provisioned", "get", "echo", "1"])
            #expect(shown.stdout.contains("READY"), "\(shown.stdout)")

            let instances = try s.warren(["instances", "--output", "json"])
            let running = try OperatorCLI.array(instances).filter { $0["FunctionName"] as? String == "echo" }
            #expect(running.count == 2)
            #expect(running.allSatisfy { $0["Provisioned"] as? Bool == true && $0["Version"] as? String == "1" })
            let table = try s.warren(["instances"])
            #expect(table.stdout.hasPrefix("FUNCTION  VERSION  STATE"), "\(table.stdout)")
            #expect(table.stdout.contains("provisioned"), "\(table.stdout)")

            #expect(try s.warren(["provisioned", "delete", "echo", "1"]).status == 0)
            let none = try s.warren(["provisioned", "get", "echo", "1"])
            #expect(none.status == 3)
            #expect(none.stderr.hasPrefix("warren: ProvisionedConcurrencyConfigNotFoundException: "), "\(none.stderr)")

            let account = try s.warren(["account", "--output", "json"])
            let limit = try OperatorCLI.object(account)["AccountLimit"] as? [String: Any]
            #expect(limit?["ConcurrentExecutions"] as? Int == 1000)
            #expect(try s.warren(["account"]).stdout.contains("FunctionCount"))
        }
    }

    @Test func aWrongKeyIsRefusedWithExit3() throws {
        try withServer { s in
            let r = try s.warren(["function", "list", "--secret-key", "not-the-secret"])
            #expect(r.status == 3)
            #expect(r.stderr.hasPrefix("warren: "), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1)
            let env = try s.warren(["function", "list"], env: ["AWS_ACCESS_KEY_ID": "AKIDNOBODY"])
            #expect(env.status == 3, "\(env.stderr)")
            let ok = try s.warren(["function", "list", "--output", "json"])
            #expect(ok.status == 0 && ok.stdout == "[]\n", "\(ok.stderr)")
        }
    }
}
