// Issue 14 item 4, in the app: a WallClient whose link dies while 60 chat messages go by comes
// back with its last seq; the server answers with a snapshot, the newest 50 messages and
// Joined.more_chat; the client pages the other 10 by itself (HistoryRequest.after_seq) and keeps
// the messages it already had. Past the server's history rate it asks again for a refused page. Real server on 127.0.0.1 port 0, a real client through the
// loopback fault proxy, a raw test client writing.

#include "app/chatmodel.h"
#include "app/wallclient.h"
#include "server/wallserver.h"
#include "tests/support/faultproxy.h"
#include "tests/support/testclient.h"

#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace scrawl;
using scrawl::test::FaultProxy;
using scrawl::test::TestClient;

class TstChatGap : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void returningAppPagesTheChatItMissed_data()
    {
        QTest::addColumn<int>("missed");
        QTest::newRow("60 missed: 50 with the join, 10 paged") << 60;
        // 22 pages of 200: more than max_history_requests_per_minute lets through at once, so
        // the app must ask again for a refused page instead of leaving a hole.
        QTest::newRow("4,400 missed: paged past the history rate") << 4400;
    }

    void returningAppPagesTheChatItMissed()
    {
        QFETCH(int, missed);
        QTemporaryDir dir;
        ServerOptions options;
        options.host = QHostAddress::LocalHost;
        options.port = 0;
        options.dataDir = dir.path();
        WallServer server(options);
        QString error;
        QVERIFY2(server.start(&error), qPrintable(error));
        FaultProxy proxy(server.port());
        QVERIFY(proxy.listen());
        const QString wall = QStringLiteral("gap");

        TestClient writer;
        QVERIFY(writer.connectAs(server.url(), QStringLiteral("Writer")));
        QVERIFY(writer.join(wall));
        WallClient app;
        app.setDisplayName(QStringLiteral("Away"));
        app.setColor(QColor(0x20, 0x80, 0xc0));
        app.setBackoff(50, 400);
        app.connectToWall(QStringLiteral("127.0.0.1:%1").arg(proxy.port()), wall);
        QTRY_COMPARE(app.state(), WallClient::Connected);

        std::uint64_t id = 0;
        for (int i = 0; i < 5; ++i)
            id = writer.chat(QStringLiteral("seen %1").arg(i));
        QTRY_COMPARE(app.chat()->rowCount(), 5);

        // The link goes silent, 60 messages and a stroke go by, then it drops: the app resumes.
        proxy.setMode(FaultProxy::Mode::Stall);
        const QString padding(200, QLatin1Char('.'));
        for (int i = 0; i < missed; ++i)
            id = writer.chat(QStringLiteral("missed %1 %2").arg(i).arg(padding));
        writer.stroke(1, {QPointF(0, 0), QPointF(10, 10), QPointF(20, 5)}, 1);
        QTRY_VERIFY(writer.acked(id));
        QTRY_COMPARE(writer.model.seq(), std::uint64_t(5 + missed + 2));
        proxy.dropAll();
        proxy.setMode(FaultProxy::Mode::Pass);
        QTRY_COMPARE(app.state(), WallClient::Reconnecting);
        QTRY_COMPARE(app.state(), WallClient::Connected);

        // Every message, once, in order: the 5 it had and the 60 it missed.
        QTRY_COMPARE_WITH_TIMEOUT(app.chat()->rowCount(), 5 + missed, 20000);
        QTRY_VERIFY(!app.chat()->loadingOlder());
        for (int row = 0; row < 5 + missed; ++row) {
            const QString text = app.chat()->at(row).text;
            QVERIFY2(row < 5 ? text == QStringLiteral("seen %1").arg(row)
                             : text.startsWith(QStringLiteral("missed %1 ").arg(row - 5)),
                     qPrintable(QStringLiteral("row %1: %2").arg(row).arg(text.left(20))));
        }
        QCOMPARE(app.headSeqValue(), double(writer.model.seq()));
    }
};

QTEST_MAIN(TstChatGap)
#include "tst_chatgap.moc"
