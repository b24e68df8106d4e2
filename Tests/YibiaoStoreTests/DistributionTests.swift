import Foundation
import PostgresNIO
import Testing
import YibiaoCore
import YibiaoStore
import YibiaoTestSupport

@Suite struct DistributionTests {
    typealias Table = SchemaCatalog.Table
    typealias Key = SchemaCatalog.ForeignKey

    static let smallCatalog = SchemaCatalog(
        tables: [
            Table(name: "district", hasDistrictColumn: true),
            Table(name: "source_system", hasDistrictColumn: false),
            Table(name: "schema_migration", hasDistrictColumn: false),
            Table(name: "link", hasDistrictColumn: true),
            Table(name: "resident", hasDistrictColumn: true),
        ],
        foreignKeys: [
            Key(table: "resident", name: "resident_district_fkey", referencedTable: "district", definition: "FOREIGN KEY (district) REFERENCES district(district)"),
            Key(
                table: "link", name: "link_system_fkey", referencedTable: "source_system",
                definition: "FOREIGN KEY (system_id) REFERENCES source_system(system_id)"),
        ])

    @Test("a plan: the tenant list and referenced lookups become reference tables, district tables follow resident, the rest stays")
    func plan() {
        let plan = DistributionPlan(catalog: Self.smallCatalog)
        #expect(plan.toReference == ["district", "source_system"])
        #expect(plan.toDistribute == ["resident", "link"])
        #expect(plan.toUndistribute.isEmpty)
        #expect(plan.foreignKeys.map(\.name) == ["link_system_fkey", "resident_district_fkey"])
        let statements = plan.statements
        #expect(!statements.contains { $0.contains("schema_migration") })
        let dropped = statements.firstIndex { $0.contains("DROP CONSTRAINT \"resident_district_fkey\"") } ?? .max
        let reference = statements.firstIndex { $0 == "SELECT create_reference_table('district')" } ?? .max
        let anchor = statements.firstIndex { $0 == "SELECT create_distributed_table('resident', 'district', colocate_with => 'none')" } ?? .max
        let follower = statements.firstIndex { $0 == "SELECT create_distributed_table('link', 'district', colocate_with => 'resident')" } ?? .max
        let readded = statements.firstIndex { $0.hasSuffix("ADD CONSTRAINT \"resident_district_fkey\" FOREIGN KEY (district) REFERENCES district(district)") } ?? .max
        #expect(dropped < reference && reference < anchor && anchor < follower && follower < readded && readded < statements.count)
    }

    @Test("a plan does only what is left: nothing once every table is placed; a new table alone, with its keys, later")
    func incremental() {
        var placed = Self.smallCatalog
        for index in placed.tables.indices {
            switch placed.tables[index].name {
            case "district", "source_system": placed.tables[index].placement = .reference
            case "resident", "link": placed.tables[index].placement = .distributed
            default: break
            }
        }
        #expect(DistributionPlan(catalog: placed).isEmpty)
        #expect(DistributionPlan(catalog: placed).statements.isEmpty)

        placed.tables.append(Table(name: "worker_note", hasDistrictColumn: true))
        placed.foreignKeys.append(
            Key(
                table: "worker_note", name: "worker_note_resident_fkey", referencedTable: "resident",
                definition: "FOREIGN KEY (district, resident_id) REFERENCES resident(district, resident_id)"))
        let later = DistributionPlan(catalog: placed)
        #expect(later.toDistribute == ["worker_note"])
        #expect(later.toReference.isEmpty)
        #expect(later.foreignKeys.map(\.name) == ["worker_note_resident_fkey"])

        // A table Citus made a managed local table (a foreign key to a reference table) is
        // turned back into a plain one before it is distributed.
        placed.tables[placed.tables.count - 1].placement = .citusLocal
        let repaired = DistributionPlan(catalog: placed)
        #expect(repaired.toUndistribute == ["worker_note"])
        #expect(repaired.toDistribute == ["worker_note"])
        let statements = repaired.statements
        #expect(
            (statements.firstIndex { $0.hasPrefix("SELECT undistribute_table") } ?? .max)
                < (statements.firstIndex { $0.hasPrefix("SELECT create_distributed_table") } ?? 0))
    }

    @Test("on the migrated schema: every district table is distributed, every foreign key comes back as it was")
    func migratedSchema() async throws {
        try await TestDatabase.withFreshDatabase { _, client in
            let catalog = try await client.withConnection { try await Distribution.catalog($0, logger: .silent) }
            let plan = DistributionPlan(catalog: catalog)
            let districtTables = catalog.tables.filter { $0.hasDistrictColumn && $0.name != "district" }.map(\.name)
            #expect(districtTables.count >= 27)
            #expect(Set(plan.toDistribute) == Set(districtTables))
            #expect(plan.toDistribute.first == "resident")
            #expect(plan.toReference == ["district", "source_system"])
            #expect(plan.foreignKeys.count == catalog.foreignKeys.count)
            // Every unique key leads with or contains district (Citus needs the distribution column).
            var uniqueWithoutDistrict: [String] = []
            let rows = try await client.query(
                """
                SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                WHERE i.indisunique AND c.relnamespace = 'public'::regnamespace
                  AND c.relname NOT IN ('source_system', 'schema_migration')
                  AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attname = 'district' AND a.attnum = ANY (i.indkey))
                """)
            for try await name in rows.decode(String.self) { uniqueWithoutDistrict.append(name) }
            #expect(uniqueWithoutDistrict.isEmpty)

            // The plan's own SQL, minus the Citus calls, runs on plain PostgreSQL and leaves the
            // keys exactly as they were: what it re-adds is what it dropped.
            try await client.withConnection { connection in
                try await connection.query("BEGIN", logger: .silent)
                for statement in plan.statements where !statement.hasPrefix("SELECT ") {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: .silent)
                }
                let after = try await Distribution.catalog(connection, logger: .silent)
                try await connection.query("ROLLBACK", logger: .silent)
                #expect(after.foreignKeys == catalog.foreignKeys)
            }
        }
    }

    @Test("db distribute refuses on a server without citus, and names the fix")
    func refusesWithoutCitus() async throws {
        try await TestDatabase.withFreshDatabase { url, client in
            await #expect(throws: StoreError.self) {
                try await Distribution.distribute(client, url: url, dryRun: false, logger: .silent)
            }
            do {
                _ = try await Distribution.distribute(client, url: url, dryRun: false, logger: .silent)
            } catch let error as StoreError {
                #expect(error.errorCode == .citusMissing)
                #expect(error.remedy?.en.contains("CREATE EXTENSION citus") == true)
            }
            let plan = try await Distribution.distribute(client, url: url, dryRun: true, logger: .silent)
            #expect(!plan.serverHasCitus && !plan.isEmpty)
            let distributed = try await client.withConnection { try await Distribution.isDistributed($0, logger: .silent) }
            #expect(!distributed)
        }
    }

    @Test("db migrate distributes what a statement creates only on a distributed database: CREATE TABLE is recognised")
    func createTableStatements() {
        #expect(Migrator.createsTable("CREATE TABLE x (a int)"))
        #expect(Migrator.createsTable("-- why\ncreate unlogged table x (a int)"))
        #expect(Migrator.createsTable("CREATE TABLE IF NOT EXISTS x (a int)"))
        #expect(!Migrator.createsTable("CREATE INDEX x ON y (a)"))
        #expect(!Migrator.createsTable("ALTER TABLE x ADD COLUMN b int"))
        #expect(!Migrator.createsTable("CREATE TABLESPACE x LOCATION '/tmp'"))
    }
}
