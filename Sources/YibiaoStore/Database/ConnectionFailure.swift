import Foundation
import NIOSSL
import PostgresNIO
import YibiaoCore

extension Database {
    /// Why a connection failed, in the user's terms: which server, which `sslmode`, what to
    /// try. The server's own words go to `detail` only.
    static func unreachable(_ url: DatabaseURL, _ error: any Error) -> StoreError {
        let place = url.endpointText
        let mode = url.tls.rawValue
        let detail = String(reflecting: error)
        let psql = error as? PSQLError
        let sqlState = psql?.serverInfo?[.sqlState]
        let serverMessage = psql?.serverInfo?[.message] ?? ""
        if psql?.code == .sslUnsupported {
            return StoreError(
                .databaseNoTLS,
                message: LocalizedText(
                    en: "the database server at \(place) does not offer TLS, and sslmode=\(mode) requires it",
                    zh: "\(place) 的数据库服务器不提供 TLS，而 sslmode=\(mode) 要求加密连接"),
                remedy: LocalizedText(
                    en: "turn on ssl in the server's postgresql.conf, or, on a trusted network only, use sslmode=prefer or sslmode=disable",
                    zh: "请在服务器的 postgresql.conf 中开启 ssl；仅在可信网络上才可改用 sslmode=prefer 或 sslmode=disable"),
                exitCode: ExitStatus.unavailable, detail: detail)
        }
        if isCertificateFailure(error) {
            return StoreError(
                .databaseCertificate,
                message: LocalizedText(
                    en: "the certificate of the database server at \(place) could not be verified (sslmode=\(mode))",
                    zh: "无法验证 \(place) 数据库服务器的证书（sslmode=\(mode)）"),
                remedy: LocalizedText(
                    en: "set sslrootcert=PATH in YIBIAO_DATABASE_URL to the CA that signed it, and connect by the host name in the certificate"
                        + "; sslmode=require encrypts without verifying who answers",
                    zh: "请在 YIBIAO_DATABASE_URL 中设置 sslrootcert=路径，指向签发该证书的 CA，并使用证书中的主机名连接；"
                        + "sslmode=require 只加密、不验证对方身份"),
                exitCode: ExitStatus.unavailable, detail: detail)
        }
        if sqlState == "28000", serverMessage.contains("no encryption") {
            return StoreError(
                .databaseRefusedPlain,
                message: LocalizedText(
                    en: "the database server at \(place) refuses connections without TLS (sslmode=\(mode))",
                    zh: "\(place) 的数据库服务器拒绝未加密的连接（sslmode=\(mode)）"),
                remedy: LocalizedText(
                    en: "use sslmode=require (or verify-full with sslrootcert) in YIBIAO_DATABASE_URL",
                    zh: "请在 YIBIAO_DATABASE_URL 中使用 sslmode=require（或 verify-full 加 sslrootcert）"),
                exitCode: ExitStatus.unavailable, detail: detail)
        }
        if sqlState == "28P01" || sqlState == "28000" || psql?.code == .authMechanismRequiresPassword {
            return StoreError(
                .databaseLoginRejected,
                message: LocalizedText(
                    en: "the database server at \(place) rejected the login of user \(url.user) to database \(url.database)",
                    zh: "\(place) 的数据库服务器拒绝了用户 \(url.user) 登录数据库 \(url.database)"),
                remedy: LocalizedText(
                    en: "check the user and password in YIBIAO_DATABASE_URL, and the server's pg_hba.conf for this host",
                    zh: "请检查 YIBIAO_DATABASE_URL 中的用户名和密码，以及服务器 pg_hba.conf 中对本机的设置"),
                exitCode: ExitStatus.unavailable, detail: detail)
        }
        if sqlState == "3D000" {
            return StoreError(
                .databaseUnreachable,
                message: LocalizedText(
                    en: "the database server at \(place) has no database named \(url.database)",
                    zh: "\(place) 的数据库服务器上没有名为 \(url.database) 的数据库"),
                remedy: LocalizedText(
                    en: "create it (CREATE DATABASE \(url.database) OWNER \(url.user)), or fix the database name in YIBIAO_DATABASE_URL",
                    zh: "请先创建它（CREATE DATABASE \(url.database) OWNER \(url.user)），或改正 YIBIAO_DATABASE_URL 中的数据库名"),
                exitCode: ExitStatus.unavailable, detail: detail)
        }
        return StoreError(
            .databaseUnreachable,
            message: LocalizedText(en: "cannot connect to the database \(url)", zh: "无法连接数据库 \(url)"),
            remedy: LocalizedText(
                en: "start the embedded database with `yibiao db start`, or check YIBIAO_DATABASE_URL",
                zh: "请用 `yibiao db start` 启动内置数据库，或检查 YIBIAO_DATABASE_URL"),
            exitCode: ExitStatus.unavailable,
            detail: detail)
    }

    /// A TLS handshake that failed on the certificate (BoringSSL's "certificate verify failed",
    /// or NIOSSL's host name check), wherever PostgresNIO wrapped it.
    private static func isCertificateFailure(_ error: any Error) -> Bool {
        var underlying: (any Error)? = error
        if let psql = error as? PSQLError { underlying = psql.underlying ?? error }
        if let ssl = underlying as? NIOSSLError {
            switch ssl {
            case .unableToValidateCertificate: return true
            case .handshakeFailed(let boring): return String(describing: boring).uppercased().contains("CERTIFICATE")
            default: return false
            }
        }
        if let ssl = underlying as? NIOSSLExtraError { return String(describing: ssl).contains("hostname") || String(describing: ssl).contains("certificate") }
        return String(reflecting: error).uppercased().contains("CERTIFICATE_VERIFY_FAILED")
    }
}
