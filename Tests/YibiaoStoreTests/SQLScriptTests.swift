import Testing
import YibiaoStore

@Suite struct SQLScriptTests {
    @Test("splits on semicolons outside quotes, comments and dollar quotes")
    func splitting() throws {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE a (x text DEFAULT 'it''s; fine');
            /* block; /* nested; */ still comment; */
            INSERT INTO a VALUES (E'back\\'; slash'), ('plain');
            CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE NOTICE 'a; b';
            END;
            $$;
            SELECT "weird;name" FROM a WHERE x = $1;
            DO $body$ BEGIN PERFORM 1; END $body$;
            -- trailing comment only
            """
        let statements = SQLScript.statements(in: script)
        try #require(statements.count == 5)
        #expect(statements[0].text == "-- a comment; with a semicolon\nCREATE TABLE a (x text DEFAULT 'it''s; fine')")
        #expect(statements[0].line == 1)
        #expect(statements[1].text.hasSuffix("('plain')"))
        #expect(statements[1].line == 3)
        #expect(statements[2].text.hasPrefix("CREATE FUNCTION"))
        #expect(statements[2].text.hasSuffix("$$"))
        #expect(statements[2].line == 5)
        #expect(statements[3].text == "SELECT \"weird;name\" FROM a WHERE x = $1")
        #expect(statements[4].text == "DO $body$ BEGIN PERFORM 1; END $body$")
        #expect(statements[4].line == 11)
        #expect(statements[1].text.contains("E'back\\'; slash'"))
    }

    @Test("a script of comments and blanks has no statements")
    func empty() {
        #expect(SQLScript.statements(in: "").isEmpty)
        #expect(SQLScript.statements(in: "  \n-- nothing\n/* here */\n;\n").isEmpty)
    }

    @Test("a last statement without a semicolon counts")
    func noTrailingSemicolon() {
        #expect(SQLScript.statements(in: "SELECT 1; SELECT 2").map(\.text) == ["SELECT 1", "SELECT 2"])
    }
}
