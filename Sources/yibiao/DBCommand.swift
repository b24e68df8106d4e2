import ArgumentParser
import Foundation
import YibiaoCore
import YibiaoApplication
import YibiaoStore

struct DB: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "db",
            abstract: tr(
                "Manage the database: the embedded PostgreSQL, or the server in YIBIAO_DATABASE_URL.",
                "管理数据库：内置的 PostgreSQL，或 YIBIAO_DATABASE_URL 指向的服务器。"),
            subcommands: [Start.self, Stop.self, Status.self, URLCommand.self, Migrate.self, Distribute.self, Reset.self]
        )
    }
}

extension DB {
    struct Start: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "Start the embedded PostgreSQL (initialising it on first use) and create the database.",
                    "启动内置 PostgreSQL（首次使用时自动初始化）并创建数据库。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let configuration = try database.schemaConfiguration()
            if let external = configuration.database.externalURL {
                try await Hub.withHub(configuration) { _ in }
                print(
                    tr(
                        "YIBIAO_DATABASE_URL is set: using \(external); nothing to start.",
                        "已设置 YIBIAO_DATABASE_URL：使用 \(external)，无需启动。"))
                return
            }
            let server = configuration.database.embedded
            let outcome = try server.start()
            switch outcome {
            case .alreadyRunning(let pid):
                print(tr("The embedded database is already running (pid \(pid)).", "内置数据库已在运行（进程号 \(pid)）。"))
            case .started(let initialised, let removedStale):
                if removedStale {
                    print(
                        tr(
                            "Removed a stale pid file: the server had not been shut down cleanly.",
                            "已删除残留的 pid 文件：服务器上次未正常关闭。"))
                }
                if initialised {
                    print(
                        tr(
                            "Initialised a new database cluster in \(server.dataDirectory.path).",
                            "已在 \(server.dataDirectory.path) 初始化新的数据库集群。"))
                }
                print(tr("Started the embedded database.", "内置数据库已启动。"))
            }
            try await Hub.createDatabaseIfMissing(configuration)
            // A batch a crash or a lost server left running says so as soon as the server is back.
            let interrupted = try await Hub.withHub(configuration) { hub in
                try await hub.schemaStatus().applied.isEmpty ? [] : try await hub.failInterruptedBatches()
            }
            for batch in interrupted {
                print(
                    tr(
                        "Batch \(batch.batchID) of \(batch.district) (\(batch.system) · \(batch.fileName)) had stopped before it finished; it is now marked failed. Run the same ingest again.",
                        "区县 \(batch.district) 的批次 \(batch.batchID)（\(batch.system) · \(batch.fileName)）此前未完成即中断；现已标记为失败。请重新执行同一导入。"))
            }
            print(tr("Connect with: psql \"\(server.url)\"", "连接方式：psql \"\(server.url)\""))
        }
    }

    struct Stop: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: tr("Stop the embedded PostgreSQL.", "停止内置 PostgreSQL。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let configuration = try database.database()
            if configuration.externalURL != nil {
                print(
                    tr(
                        "YIBIAO_DATABASE_URL is set: that server is not managed by yibiao; nothing to stop.",
                        "已设置 YIBIAO_DATABASE_URL：该服务器不由 yibiao 管理，无需停止。"))
                return
            }
            switch try configuration.embedded.stop() {
            case .stopped: print(tr("Stopped the embedded database.", "内置数据库已停止。"))
            case .notRunning: print(tr("The embedded database is not running.", "内置数据库未在运行。"))
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "Show whether the database is running, where it is, and its migrations. Exit status 3 when it is not running.",
                    "显示数据库是否在运行、所在位置及迁移情况。未运行时退出码为 3。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let configuration = try database.schemaConfiguration()
            if let external = configuration.database.externalURL {
                print(
                    tr(
                        "Database: external server \(external) (YIBIAO_DATABASE_URL)",
                        "数据库：外部服务器 \(external)（YIBIAO_DATABASE_URL）"))
            } else {
                let server = configuration.database.embedded
                print(tr("Database: embedded, in \(server.dataDirectory.path)", "数据库：内置，位于 \(server.dataDirectory.path)"))
                switch try server.status() {
                case .notInitialised:
                    print(tr("State: not initialised — run `yibiao db start`", "状态：尚未初始化——请执行 `yibiao db start`"))
                    throw ExitCode(3)
                case .stopped:
                    print(tr("State: stopped — run `yibiao db start`", "状态：已停止——请执行 `yibiao db start`"))
                    throw ExitCode(3)
                case .stalePidFile(let pid):
                    print(
                        tr(
                            "State: stopped (stale pid file of process \(pid); `yibiao db start` will clean it up)",
                            "状态：已停止（残留进程 \(pid) 的 pid 文件；`yibiao db start` 会清理）"))
                    throw ExitCode(3)
                case .running(let pid):
                    print(tr("State: running (pid \(pid))", "状态：运行中（进程号 \(pid)）"))
                    print(tr("Socket: \(server.socketPath)", "套接字：\(server.socketPath)"))
                }
            }
            let status = try await Hub.withHub(configuration) { hub in try await hub.schemaStatus() }
            print(tr("PostgreSQL: \(status.serverVersion)", "PostgreSQL 版本：\(status.serverVersion)"))
            let schema = status.applied.last.map { "\($0.version) (\($0.fileName))" } ?? tr("none", "无")
            print(
                tr(
                    "Schema: migration \(schema); \(status.pending.count) pending",
                    "数据库结构：迁移 \(schema)；待应用 \(status.pending.count) 个"))
            if !status.pending.isEmpty {
                print(tr("Run `yibiao db migrate` to apply the pending migrations.", "请执行 `yibiao db migrate` 应用待处理的迁移。"))
            }
        }
    }

    struct URLCommand: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                commandName: "url",
                abstract: tr(
                    "Print the connection URL (for psql and other tools; passwords are not printed).",
                    "输出数据库连接 URL（供 psql 等工具使用；不输出密码）。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let configuration = try database.database()
            print(configuration.externalURL.map(String.init(describing:)) ?? configuration.embedded.url)
        }
    }

    struct Migrate: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "Apply pending schema migrations, each in its own transaction.",
                    "应用待处理的数据库结构迁移，每个迁移在单独的事务中执行。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let applied = try await Hub.withHub(try database.schemaConfiguration()) { hub in try await hub.migrate() }
            if applied.isEmpty {
                print(tr("The schema is up to date.", "数据库结构已是最新。"))
            }
            for migration in applied {
                print(tr("Applied \(migration.fileName)", "已应用 \(migration.fileName)"))
            }
        }
    }

    struct Distribute: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "On a Citus coordinator: make district and source_system reference tables and distribute every district table by district, colocated with resident.",
                    "在 Citus 协调节点上：把 district 与 source_system 设为参考表，并把所有区县数据表按 district 分布、与 resident 共置。"),
                discussion: tr(
                    "Runs in one transaction and does only what is still needed: run it again and it does nothing. "
                        + "Afterwards `db migrate` distributes each new table as it creates it. See deploy/citus/README.md.",
                    "在一个事务中执行，只做尚未完成的部分：再次运行不会有任何更改。之后 `db migrate` 会在创建新表时立即分布它。见 deploy/citus/README.md。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @Flag(name: .long, help: ArgumentHelp(tr("Print the statements; change nothing.", "只列出语句，不做更改。")))
        var dryRun = false

        func run() async throws {
            let plan = try await Hub.withHub(try database.schemaConfiguration()) { hub in try await hub.distribute(dryRun: dryRun) }
            if plan.isEmpty {
                print(tr("Every table is already in place; nothing to do.", "所有数据表均已就位，无需更改。"))
                return
            }
            if dryRun {
                print(tr("Would run, in one transaction:", "将在一个事务中执行："))
                for statement in plan.statements { print("  \(statement);") }
                if !plan.serverHasCitus {
                    print(tr("(This server has no citus extension: the plan is for a Citus coordinator.)", "（该服务器未安装 citus 扩展：以上为在 Citus 协调节点上的计划。）"))
                }
                return
            }
            print(
                tr(
                    "Distributed \(plan.toDistribute.count) tables by district and made \(plan.toReference.count) reference tables"
                        + " (\(plan.foreignKeys.count) foreign keys dropped and re-added).",
                    "已按 district 分布 \(plan.toDistribute.count) 张表，设置 \(plan.toReference.count) 张参考表（\(plan.foreignKeys.count) 个外键已删除并重建）。"))
        }
    }

    struct Reset: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: tr(
                    "Delete every record in the database and recreate the schema. Asks first unless --yes.",
                    "删除数据库中的全部数据并重建结构。除非指定 --yes，否则会先确认。"))
        }

        @OptionGroup var global: GlobalOptions
        @OptionGroup var database: DatabaseOptions
        @Flag(name: .long, help: ArgumentHelp(tr("Do not ask for confirmation.", "不再确认。")))
        var yes = false

        func run() async throws {
            let configuration = try database.schemaConfiguration()
            let url = try configuration.database.url()
            if !yes {
                guard isatty(STDIN_FILENO) == 1 else {
                    throw ValidationError(
                        tr(
                            "`db reset` deletes all data; add --yes to confirm when not at a terminal.",
                            "`db reset` 会删除全部数据；在非交互环境中请加 --yes 确认。"))
                }
                print(
                    tr(
                        "This deletes ALL data in \(url). Type the database name (\(url.database)) to confirm: ",
                        "此操作将删除 \(url) 中的全部数据。请输入数据库名（\(url.database)）确认："), terminator: "")
                guard readLine()?.trimmingCharacters(in: .whitespaces) == url.database else {
                    print(tr("Not confirmed; nothing was changed.", "未确认，未做任何更改。"))
                    throw ExitCode.failure
                }
            }
            let applied = try await Hub.resetDatabase(configuration)
            print(
                tr(
                    "Reset \(url.database): applied \(applied.count) migrations to an empty database.",
                    "已重置 \(url.database)：在空数据库上应用了 \(applied.count) 个迁移。"))
        }
    }
}
