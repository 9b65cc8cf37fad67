import ArgumentParser

@main
struct Warren: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warren",
        abstract: "Run untrusted functions the way AWS Lambda does, on your own Linux host.",
        discussion: """
            Every process Warren starts is confined by new namespaces, an empty capability \
            set, no_new_privs, a seccomp filter and cgroup limits.
            """,
        subcommands: [RunCommand.self, PolicyCommand.self]
    )
}
