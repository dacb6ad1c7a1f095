import CouponService
import Foundation

/// coupond: the node (`serve`) and its operational commands.
let usage = """
    usage: coupond <command> [--setting value ...]

    commands:
      serve                         run a node (HTTP API, claim path, flusher)
      migrate                       apply PostgreSQL migrations and exit
      keys create --role R [--label L]
                                    create an API key (roles: issue, checkout, admin, finance);
                                    prints the key once, PostgreSQL keeps only its hash
      keys list                     id, role, label, created, revoked of every key (never the key)
      keys revoke ID                revoke a key; every node refuses it within key-cache-seconds
      demo [--stock N] [--per-user-limit N] [--keys-file PATH]
                                    create API keys for every role, a template and an open
                                    campaign, publish it, and print what was created
      reconcile --from YYYY-MM-DD --to YYYY-MM-DD [--campaign-id N] [--tz Area/City] [--format table|csv|json]
                                    reconciliation report; exits 1 when a check fails
      jobs submit --campaign-id N FILE|-  queue a bulk grant job from a list of user ids (one per
                                    line or CSV), streamed from the file into PostgreSQL
      jobs status ID [--watch]      a bulk job's state and counters; --watch shows progress until it ends
      jobs cancel ID                cancel a bulk job (decided lines stay decided)
      jobs refusals ID              the job's refused lines as CSV line,user_id,reason

    settings (flags or COUPOND_* environment variables):
    \(Configuration.settings.map { "  --\($0.name.padding(toLength: 26, withPad: " ", startingAt: 0)) \($0.help)" }.joined(separator: "\n"))
    """

var arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else {
    print(usage)
    exit(2)
}
arguments.removeFirst()

do {
    let (configuration, rest) = try Configuration.parse(arguments: arguments, environment: ProcessInfo.processInfo.environment)
    let logger = Logger(minimum: configuration.logLevel)
    switch command {
    case "serve":
        guard rest.isEmpty else { throw Configuration.Error(description: "unknown arguments: \(rest.joined(separator: " "))") }
        try Commands.serve(configuration, logger: logger)
    case "migrate":
        try Commands.migrate(configuration, logger: logger)
    case "keys":
        try Commands.keys(rest, configuration)
    case "demo":
        try Commands.demo(rest, configuration, logger: logger)
    case "reconcile":
        exit(try Commands.reconcile(rest, configuration))
    case "jobs":
        exit(try Commands.jobs(rest, configuration))
    case "help", "--help", "-h":
        print(usage)
    default:
        FileHandle.standardError.write(Data("coupond: unknown command '\(command)'\n\n\(usage)\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("coupond: \(error)\n".utf8))
    exit(1)
}
