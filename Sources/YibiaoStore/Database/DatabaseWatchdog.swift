import Foundation
public import Logging
import YibiaoCore

/// Ends a piece of database work when the server goes away, instead of waiting on it forever.
///
/// PostgresNIO's pool retries a lost server without end, and a COPY in flight when the server
/// dies can leave its continuation unresumed, so work on a dead server may never return.
/// While `body` runs, a watchdog opens a fresh connection every `interval`. After `failures`
/// failed probes in a row — or as soon as the server answers with another start time, having
/// restarted (a PANIC on a full disk restarts it within a second, and the work's connections
/// die with it) — it reports the server lost and returns at once, without waiting for `body`.
/// A dead server refuses at once, so that takes seconds; a server that is merely slow must
/// miss `failures` probes of `timeout` each before its work is given up. When `body` itself
/// fails, one more probe tells a lost server (reported as such) from any other error.
///
/// That needs `body` in an unstructured task: a structured child that never ends would keep its
/// parent waiting too. The abandoned task is cancelled, and a one-shot process exits right
/// after; what it had not committed is rolled back by the server, and the batch it left
/// `running` is marked failed by `yibiao db start` or the next ingest.
public enum DatabaseWatchdog {
    public static func run<Result: Sendable>(
        _ url: DatabaseURL, logger: Logger, interval: Duration = .seconds(2), timeout: Duration = .seconds(5), failures: Int = 3,
        _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        let outcome = Once<Swift.Result<Result, any Error>>()
        let baseline = try? await Database.probe(url, logger: logger, timeout: timeout)
        let work = Task {
            do {
                await outcome.resolve(.success(try await body()))
            } catch {
                // A query on a killed server fails at once, long before the probes below notice;
                // say the server is gone rather than pass on the driver's bare connection error.
                let serverGone: Bool
                do {
                    serverGone = try await Database.probe(url, logger: logger, timeout: timeout) != baseline
                } catch {
                    serverGone = true
                }
                await outcome.resolve(.failure(serverGone && baseline != nil ? lost(url) : error))
            }
        }
        let watchdog = Task {
            var failed = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                do {
                    let started = try await Database.probe(url, logger: logger, timeout: timeout)
                    failed = 0
                    if let baseline, started != baseline {
                        logger.debug("the database server restarted", metadata: ["was": "\(baseline)", "now": "\(started)"])
                        await outcome.resolve(.failure(lost(url)))
                        return
                    }
                } catch {
                    failed += 1
                    logger.debug("database probe failed", metadata: ["failures": "\(failed)", "error": "\(String(reflecting: error))"])
                    if failed >= failures {
                        await outcome.resolve(.failure(lost(url)))
                        return
                    }
                }
            }
        }
        let result = await withTaskCancellationHandler {
            await outcome.value
        } onCancel: {
            work.cancel()
        }
        work.cancel()
        watchdog.cancel()
        return try result.get()
    }

    static func lost(_ url: DatabaseURL) -> StoreError {
        StoreError(
            .databaseLost,
            message: LocalizedText(
                en: "the database stopped answering (\(url)); the work was stopped",
                zh: "数据库已无响应（\(url)）；工作已停止"),
            remedy: LocalizedText(
                en: "start it again (`yibiao db start`) and run the same command again: what was committed stays, the rest is redone",
                zh: "请重新启动数据库（`yibiao db start`）后再次执行同一命令：已提交的内容保留，其余部分会重做"),
            exitCode: ExitStatus.unavailable)
    }
}

/// A value set once, awaited by one reader.
private actor Once<Value: Sendable> {
    private var value_: Value?
    private var waiter: CheckedContinuation<Value, Never>?

    func resolve(_ value: Value) {
        guard value_ == nil else { return }
        value_ = value
        waiter?.resume(returning: value)
        waiter = nil
    }

    var value: Value {
        get async {
            if let value_ { return value_ }
            return await withCheckedContinuation { waiter = $0 }
        }
    }
}
