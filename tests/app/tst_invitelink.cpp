// `scrawl LINK`: which links name a wall to join, and what a person is told about the others.

#include "app/invitelink.h"

#include <QTest>

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
