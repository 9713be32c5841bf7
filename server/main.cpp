#include "core/limits.h"
#include "core/protocol.h"
#include "server/unixsignals.h"
#include "server/wallserver.h"

#include <QCommandLineParser>
#include <QCoreApplication>

#include <algorithm>
#include <cstdio>

#include <malloc.h>

int main(int argc, char *argv[])
{
    // Qt's default event dispatcher on Linux is GLib's, which keeps socket notifiers in a linked
    // list: every write notifier a broadcast enables and the next pass disables costs O(sockets),
    // so one op sent to 1,000 members cost O(members²) (a third of the server's CPU at N = 1000;
    // p50 45 ms at 50 ops/s). Qt's own UNIX dispatcher keeps them in a hash. The server has no GUI
    // to share a GLib main loop with. (The app, which can host a wall, keeps GLib for its window
    // system integration; a hosted wall is a handful of colleagues.)
    qputenv("QT_NO_GLIB", "1");
    // A join copies a snapshot of megabytes (into the Joined frame, then into the socket's
    // buffer). glibc serves blocks that big with fresh mmap()s, or hands freed heap back to the
    // kernel, unless told otherwise: each copy then page-faults its way through new memory, which
    // made a 1.3 MB join's frame-and-send cost 11 ms instead of 0.2. Keep such memory for reuse.
    mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("scrawl-server"));
    QCoreApplication::setOrganizationName(QStringLiteral("scrawl"));
    QCoreApplication::setApplicationVersion(QLatin1String(scrawl::kAppVersion));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Scrawl wall server: hosts shared walls over "
                                                    "WebSocket, with a JSON HTTP API on the same port."));
    parser.addHelpOption();
    parser.addVersionOption();
    QCommandLineOption portOption(QStringLiteral("port"),
                                  QStringLiteral("Port to listen on (0 picks a free one). Default 7777."),
                                  QStringLiteral("N"), QStringLiteral("7777"));
    QCommandLineOption hostOption(QStringLiteral("host"),
                                  QStringLiteral("Address to listen on. Default: all addresses."),
                                  QStringLiteral("ADDRESS"));
    QCommandLineOption dataOption(QStringLiteral("data"),
                                  QStringLiteral("Directory for the database. Default: the user's data location."),
                                  QStringLiteral("DIR"));
    QCommandLineOption certOption(QStringLiteral("tls-cert"),
                                  QStringLiteral("PEM certificate (chain) file: serve wss:// and HTTPS only."),
                                  QStringLiteral("FILE"));
    QCommandLineOption keyOption(QStringLiteral("tls-key"),
                                 QStringLiteral("PEM private key file for --tls-cert (unencrypted)."),
                                 QStringLiteral("FILE"));
    QCommandLineOption connOption(QStringLiteral("max-connections-per-address"),
                                  QStringLiteral("Open connections allowed from one address "
                                                 "(limit max_connections_per_address). Default %1.")
                                      .arg(scrawl::limits::kMaxConnectionsPerAddress),
                                  QStringLiteral("N"));
    QCommandLineOption connectsOption(QStringLiteral("max-connects-per-address"),
                                      QStringLiteral("New connections a minute allowed from one "
                                                     "address (limit "
                                                     "max_connects_per_address_per_minute). "
                                                     "Default %1.")
                                          .arg(scrawl::limits::kMaxConnectsPerAddressPerMinute),
                                      QStringLiteral("N"));
    QCommandLineOption joinsOption(QStringLiteral("max-joins-per-address"),
                                   QStringLiteral("Joins a minute allowed from one address (limit "
                                                  "max_joins_per_address_per_minute). Default %1.")
                                       .arg(scrawl::limits::kMaxJoinsPerAddressPerMinute),
                                   QStringLiteral("N"));
    QCommandLineOption newUsersOption(QStringLiteral("max-new-users-per-address"),
                                      QStringLiteral("New identities an hour allowed from one address "
                                                     "(limit max_new_users_per_address_per_hour). "
                                                     "Default %1.")
                                          .arg(scrawl::limits::kMaxNewUsersPerAddressPerHour),
                                      QStringLiteral("N"));
    QCommandLineOption newWallsOption(QStringLiteral("max-walls-created-per-address"),
                                      QStringLiteral("New walls an hour allowed from one address "
                                                     "(limit max_walls_created_per_address_per_hour). "
                                                     "Default %1.")
                                          .arg(scrawl::limits::kMaxWallsCreatedPerAddressPerHour),
                                      QStringLiteral("N"));
    QCommandLineOption opsOption(QStringLiteral("max-ops-per-second"),
                                 QStringLiteral("Changes a second allowed from one client, in "
                                                "bursts of 10 seconds' worth (limit "
                                                "max_ops_per_second). Default %1, bursts of %2.")
                                     .arg(scrawl::limits::kMaxOpsPerSecond)
                                     .arg(scrawl::limits::kOpsBurst),
                                 QStringLiteral("N"));
    QCommandLineOption redisOption(QStringLiteral("redis"),
                                   QStringLiteral("Serve the walls of a cluster whose shared store is this "
                                                  "Redis (7.0 or later, with appendonly yes and appendfsync "
                                                  "always): any number of servers started with the same "
                                                  "address serve the same walls. See docs/scaling.md."),
                                   QStringLiteral("redis://HOST:PORT[/DB]"));
    parser.addOption(redisOption);
    parser.addOption(opsOption);
    parser.addOption(portOption);
    parser.addOption(hostOption);
    parser.addOption(dataOption);
    QCommandLineOption proxyOption(QStringLiteral("trusted-proxy"),
                                   QStringLiteral("Address of a reverse proxy whose X-Forwarded-For "
                                                  "is believed for per-address limits (repeat for "
                                                  "several)."),
                                   QStringLiteral("ADDRESS"));
    parser.addOption(proxyOption);
    parser.addOption(certOption);
    parser.addOption(keyOption);
    parser.addOption(connOption);
    parser.addOption(connectsOption);
    parser.addOption(joinsOption);
    parser.addOption(newUsersOption);
    parser.addOption(newWallsOption);
    parser.process(app);

    scrawl::ServerOptions options;
    bool ok = false;
    const uint port = parser.value(portOption).toUInt(&ok);
    if (!ok || port > 65535) {
        std::fprintf(stderr, "scrawl-server: --port must be a number from 0 to 65535, got \"%s\".\n",
                     qPrintable(parser.value(portOption)));
        return 2;
    }
    options.port = quint16(port);
    if (parser.isSet(hostOption)) {
        options.host = QHostAddress(parser.value(hostOption));
        if (options.host.isNull()) {
            std::fprintf(stderr, "scrawl-server: --host \"%s\" is not an IP address.\n",
                         qPrintable(parser.value(hostOption)));
            return 2;
        }
    }
    options.dataDir = parser.value(dataOption);
    for (const QString &proxy : parser.values(proxyOption)) {
        const QHostAddress address(proxy);
        if (address.isNull()) {
            std::fprintf(stderr, "scrawl-server: --trusted-proxy \"%s\" is not an IP address.\n",
                         qPrintable(proxy));
            return 2;
        }
        options.trustedProxies << address;
    }
    options.redisUrl = parser.value(redisOption);
    options.tlsCertFile = parser.value(certOption);
    options.tlsKeyFile = parser.value(keyOption);
    for (const auto &[option, target] :
         {std::pair{&connOption, &options.addressLimits.maxConnections},
          std::pair{&connectsOption, &options.addressLimits.maxConnectsPerMinute},
          std::pair{&joinsOption, &options.addressLimits.maxJoinsPerMinute},
          std::pair{&newUsersOption, &options.addressLimits.maxNewUsersPerHour},
          std::pair{&newWallsOption, &options.addressLimits.maxWallsCreatedPerHour},
          std::pair{&opsOption, &options.maxOpsPerSecond}}) {
        if (!parser.isSet(*option))
            continue;
        const int n = parser.value(*option).toInt(&ok);
        if (!ok || n < 1) {
            std::fprintf(stderr, "scrawl-server: --%s must be a number above 0, got \"%s\".\n",
                         qPrintable(option->names().constFirst()), qPrintable(parser.value(*option)));
            return 2;
        }
        *target = n;
    }
    options.opsBurst = std::max(scrawl::limits::kOpsBurst, 10 * options.maxOpsPerSecond);

    scrawl::WallServer server(options);
    QString error;
    if (!server.start(&error)) {
        std::fprintf(stderr, "scrawl-server: %s\n", qPrintable(error));
        return 1;
    }
    scrawl::quitOnTerminationSignals();
    const QString host = options.host == QHostAddress::Any ? QStringLiteral("0.0.0.0")
                                                           : options.host.toString();
    std::printf("listening on %s://%s:%u\n", server.tls() ? "wss" : "ws", qPrintable(host),
                unsigned(server.port()));
    std::fflush(stdout);
    const int rc = app.exec();
    server.stop();
    return rc;
}
