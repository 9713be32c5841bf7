// `scrawl LINK`: which links name a wall to join, and what a person is told about the others;
// the links the Invite popup makes; and a link handed to the Scrawl already running (LinkInbox,
// over a real local socket).

#include "app/invitelink.h"
#include "app/linkinbox.h"

#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <atomic>
#include <thread>

using namespace scrawl;

class TestInviteLink : public QObject
{
    Q_OBJECT

private slots:
    void goodLinks_data()
    {
        QTest::addColumn<QString>("link");
        QTest::addColumn<QString>("address");
        QTest::addColumn<QString>("wall");
        QTest::newRow("plain") << "scrawl://127.0.0.1:7777/team" << "127.0.0.1:7777" << "team";
        QTest::newRow("host name") << "scrawl://wall.example:443/retro-2026" << "wall.example:443" << "retro-2026";
        QTest::newRow("encoded name") << "scrawl://10.0.0.2:7777/caf%C3%A9%20board" << "10.0.0.2:7777"
                                      << QString::fromUtf8("café board");
        QTest::newRow("IPv6") << "scrawl://[::1]:7777/w" << "[::1]:7777" << "w";
        QTest::newRow("spaces around") << "  scrawl://h:1/w \n" << "h:1" << "w";
        QTest::newRow("encrypted, vouched for") << "scrawl://wall.example:443/w?tls=1" << "wss://wall.example:443" << "w";
        QTest::newRow("encrypted, pinned") << "scrawl://10.0.0.2:7777/w?fp=" + QString(64, QLatin1Char('a'))
                                           << "wss://10.0.0.2:7777" << "w";
    }
    void goodLinks()
    {
        QFETCH(QString, link);
        QFETCH(QString, address);
        QFETCH(QString, wall);
        QString error;
        const auto parsed = parseInviteLink(link, &error);
        QVERIFY2(parsed, qPrintable(error));
        QCOMPARE(parsed->address, address);
        QCOMPARE(parsed->wall, wall);
    }

    // The fingerprint comes out as TlsTrust writes it, however the link spelled it.
    void fingerprintsAreReadInEitherSpelling()
    {
        const QString hex = QStringLiteral("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        QString pairs;
        for (int i = 0; i < hex.size(); i += 2)
            pairs += (i ? QStringLiteral(":") : QString()) + hex.mid(i, 2).toUpper();
        QString error;
        for (const QString &spelled : {hex, pairs, hex.toUpper()}) {
            const auto link = parseInviteLink(QStringLiteral("scrawl://h:7777/w?fp=") + spelled, &error);
            QVERIFY2(link, qPrintable(error));
            QCOMPARE(link->fingerprint, pairs);
            QCOMPARE(link->address, QStringLiteral("wss://h:7777"));
        }
    }

    // What the Invite popup copies is read back as the same address, wall and certificate.
    void madeLinksReadBack_data()
    {
        QTest::addColumn<QString>("address");
        QTest::addColumn<QString>("fingerprint");
        QTest::addColumn<QString>("link");
        QTest::addColumn<QString>("readAddress");
        const QString fp = QStringLiteral("AB:") + QStringLiteral("CD:").repeated(30) + QStringLiteral("EF");
        QTest::newRow("plain, default port") << "192.168.1.20" << "" << "scrawl://192.168.1.20:7777/caf%C3%A9%20board"
                                             << "192.168.1.20:7777";
        QTest::newRow("plain, a port") << "192.168.1.20:8000" << "" << "scrawl://192.168.1.20:8000/caf%C3%A9%20board"
                                       << "192.168.1.20:8000";
        QTest::newRow("encrypted, self-signed") << "wss://10.0.0.5:7777" << fp
                                                << "scrawl://10.0.0.5:7777/caf%C3%A9%20board?fp=ab" + QStringLiteral("cd").repeated(30) + "ef"
                                                << "wss://10.0.0.5:7777";
        QTest::newRow("encrypted, vouched for") << "wss://wall.example:443" << "" << "scrawl://wall.example:443/caf%C3%A9%20board?tls=1"
                                                << "wss://wall.example:443";
        QTest::newRow("IPv6") << "[fe80::1]:7777" << "" << "scrawl://[fe80::1]:7777/caf%C3%A9%20board" << "[fe80::1]:7777";
        // A fingerprint with a plain address means nothing: left out.
        QTest::newRow("plain with a fingerprint") << "h:1" << fp << "scrawl://h:1/caf%C3%A9%20board" << "h:1";
    }
    void madeLinksReadBack()
    {
        QFETCH(QString, address);
        QFETCH(QString, fingerprint);
        QFETCH(QString, link);
        QFETCH(QString, readAddress);
        const QString wall = QString::fromUtf8("café board");
        QCOMPARE(makeInviteLink(address, wall, fingerprint), link);
        QString error;
        const auto read = parseInviteLink(link, &error);
        QVERIFY2(read, qPrintable(error));
        QCOMPARE(read->address, readAddress);
        QCOMPARE(read->wall, wall);
        QCOMPARE(read->fingerprint, readAddress.startsWith(QLatin1String("wss")) ? fingerprint : QString());
    }

    // A link opened while Scrawl runs goes to the running one; with none running, nobody takes it.
    void aLinkGoesToTheScrawlAlreadyRunning()
    {
        QTemporaryDir runtime;
        QVERIFY(runtime.isValid());
        qputenv("XDG_RUNTIME_DIR", runtime.path().toUtf8());
        QVERIFY(LinkInbox::socketPath().startsWith(runtime.path()));
        const QString link = QStringLiteral("scrawl://127.0.0.1:7777/team");
        QVERIFY(!LinkInbox::forward(link)); // nobody listens yet

        LinkInbox running;
        QString error;
        QVERIFY2(running.listen(&error), qPrintable(error));
        QSignalSpy received(&running, &LinkInbox::linkReceived);
        // forward() blocks until the running app answers, as a second process would: here it
        // runs on a thread of its own while this one's event loop is the running app's.
        std::atomic<bool> taken = false;
        std::thread sender([&] { taken = LinkInbox::forward(link); });
        QTRY_COMPARE(received.count(), 1);
        QTRY_VERIFY(taken.load());
        sender.join();
        QCOMPARE(received.front().front().toString(), link);

        // A second app does not take the socket from the running one.
        LinkInbox second;
        QVERIFY(!second.listen(&error));
        QVERIFY2(error.contains(QLatin1String("another Scrawl")), qPrintable(error));
    }

    // A socket left by an app that crashed: nobody answers on it, and the next app takes it over.
    void aSocketLeftByACrashIsTakenOver()
    {
        QTemporaryDir runtime;
        QVERIFY(runtime.isValid());
        qputenv("XDG_RUNTIME_DIR", runtime.path().toUtf8());
        QFile stale(LinkInbox::socketPath());
        QVERIFY(stale.open(QIODevice::WriteOnly)); // a file where the socket was
        stale.close();
        QVERIFY(!LinkInbox::forward(QStringLiteral("scrawl://h:1/w")));
        LinkInbox next;
        QString error;
        QVERIFY2(next.listen(&error), qPrintable(error));
    }

    void badLinks_data()
    {
        QTest::addColumn<QString>("link");
        QTest::addColumn<QString>("says");
        QTest::newRow("web address") << "http://h:1/w" << "is not a Scrawl link";
        QTest::newRow("no port") << "scrawl://h/w" << "names no server and port";
        QTest::newRow("no wall") << "scrawl://h:1/" << "names no wall";
        QTest::newRow("a path, not a wall") << "scrawl://h:1/a/b" << "names no wall";
        QTest::newRow("a password in it") << "scrawl://ada:secret@h:1/w" << "a link never does";
        QTest::newRow("not a link") << "team" << "is not a Scrawl link";
        QTest::newRow("a fingerprint too short") << "scrawl://h:1/w?fp=abcd" << "64 hexadecimal digits";
        QTest::newRow("a fingerprint not hex") << "scrawl://h:1/w?fp=" + QString(64, QLatin1Char('z'))
                                               << "64 hexadecimal digits";
    }
    void badLinks()
    {
        QFETCH(QString, link);
        QFETCH(QString, says);
        QString error;
        QVERIFY(!parseInviteLink(link, &error));
        QVERIFY2(error.contains(says), qPrintable(error));
        QVERIFY2(error.contains(QLatin1String("scrawl://HOST:PORT/WALL")), qPrintable(error));
    }
};

QTEST_GUILESS_MAIN(TestInviteLink)
#include "tst_invitelink.moc"
