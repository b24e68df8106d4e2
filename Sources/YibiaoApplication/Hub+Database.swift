import Foundation
import Logging
public import YibiaoStore

/// The schema as the database has it.
public struct SchemaStatus: Sendable {
    public let serverVersion: String
    public let applied: [Migrator.AppliedMigration]
    public let pending: [Migration]
}

extension Hub {
    /// Creates the database on the server when it is not there yet.
    public static func createDatabaseIfMissing(_ configuration: HubConfiguration) async throws {
        try await Database.createDatabaseIfMissing(try configuration.database.url(), logger: configuration.logger)
    }

    /// Drops the database, creates it again and applies every migration.
    public static func resetDatabase(_ configuration: HubConfiguration) async throws -> [Migration] {
        let url = try configuration.database.url()
        try await Database.dropDatabase(url, logger: configuration.logger)
        try await Database.createDatabaseIfMissing(url, logger: configuration.logger)
        return try await withHub(configuration) { hub in try await hub.migrate() }
    }

    /// Applies pending migrations, each in its own transaction.
    public func migrate() async throws -> [Migration] {
        try await Migrator(logger: logger).migrate(client)
    }

    /// Lays the schema out on a Citus coordinator (`db distribute`); with `dryRun`, only says
    /// what it would do. Refuses on a server without the citus extension.
    public func distribute(dryRun: Bool) async throws -> DistributionPlan {
        try await Distribution.distribute(client, url: try configuration.database.url(), dryRun: dryRun, logger: logger)
    }

    /// Batches a process that is gone left `running`, in every district, marked failed now.
    public func failInterruptedBatches() async throws -> [SourceRecordWriter.InterruptedBatch] {
        try await SourceRecordWriter.failInterrupted(client, logger: logger)
    }

    public func schemaStatus() async throws -> SchemaStatus {
        let version = try await Database.serverVersion(client, logger: logger)
        let migrator = Migrator(logger: logger)
        return SchemaStatus(serverVersion: version, applied: try await migrator.applied(client), pending: try await migrator.pending(client))
    }
}
