// ChatModel under QAbstractItemModelTester: stored messages in seq order, pending ones after
// them, acknowledgement in place, history pages prepended, duplicates ignored.

#include "app/chatmodel.h"
#include "core/protocol.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

using namespace scrawl;

namespace {
pb::Op chatOp(std::uint64_t seq, std::uint64_t author, const QString &text,
              std::uint64_t clientOpId = 0)
{
    pb::Op op;
    op.set_seq(seq);
    op.set_author(author);
    op.set_client_op_id(clientOpId ? clientOpId : seq * 10);
    op.set_time_ms(1700000000000 + qint64(seq) * 1000);
    op.mutable_chat()->set_text(toWire(text));
    op.mutable_chat()->set_author_name(toWire(QStringLiteral("user%1").arg(author)));
    op.mutable_chat()->set_author_color(0x112233);
    return op;
}

QStringList texts(const ChatModel &m)
{
    QStringList out;
    for (int i = 0; i < m.rowCount(); ++i)
        out << m.data(m.index(i), ChatModel::TextRole).toString();
    return out;
}
} // namespace

class TestChatModel : public QObject
{
    Q_OBJECT

private slots:
    void storedInSeqOrder_data()
    {
        QTest::addColumn<QList<int>>("arrival");
        QTest::addColumn<QStringList>("expected");
        QTest::newRow("in order") << QList<int>{1, 2, 3} << QStringList{"m1", "m2", "m3"};
        QTest::newRow("reversed") << QList<int>{3, 2, 1} << QStringList{"m1", "m2", "m3"};
        QTest::newRow("duplicates") << QList<int>{1, 2, 2, 1, 3} << QStringList{"m1", "m2", "m3"};
    }
    void storedInSeqOrder()
    {
        QFETCH(QList<int>, arrival);
        QFETCH(QStringList, expected);
        ChatModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        for (int seq : arrival)
            model.addStored(chatOp(std::uint64_t(seq), 7, QStringLiteral("m%1").arg(seq)));
        QCOMPARE(texts(model), expected);
        QCOMPARE(model.oldestSeq(), 1u);
    }

    void roles()
    {
        ChatModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setSelf(7);
        model.addStored(chatOp(4, 7, QStringLiteral("hello")));
        model.addStored(chatOp(5, 8, QStringLiteral("hi")));
        const QModelIndex first = model.index(0);
        QCOMPARE(model.data(first, ChatModel::AuthorRole).toString(), QStringLiteral("user7"));
        QCOMPARE(model.data(first, ChatModel::AuthorColorRole).value<QColor>(), QColor(0x11, 0x22, 0x33));
        QCOMPARE(model.data(first, ChatModel::MineRole).toBool(), true);
        QCOMPARE(model.data(model.index(1), ChatModel::MineRole).toBool(), false);
        QCOMPARE(model.data(first, ChatModel::SeqRole).toDouble(), 4.0);
        QVERIFY(!model.data(first, ChatModel::TimeTextRole).toString().isEmpty());
        const auto names = model.roleNames();
        QVERIFY(names.values().contains("author"));
        QVERIFY(names.values().contains("pending"));
    }

    void pendingIsReplacedByItsAcknowledgement()
    {
        ChatModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setSelf(7);
        model.addStored(chatOp(1, 8, QStringLiteral("before")));
        model.addPending(555, QStringLiteral("me"), Qt::red, QStringLiteral("mine"));
        QCOMPARE(model.rowCount(), 2);
        QVERIFY(model.data(model.index(1), ChatModel::PendingRole).toBool());
        // Someone else's message sequenced first goes before our pending one.
        model.addStored(chatOp(2, 8, QStringLiteral("other")));
        QCOMPARE(texts(model), (QStringList{"before", "other", "mine"}));
        QVERIFY(model.data(model.index(2), ChatModel::PendingRole).toBool());
        model.addStored(chatOp(3, 7, QStringLiteral("mine"), 555));
        QCOMPARE(texts(model), (QStringList{"before", "other", "mine"}));
        QVERIFY(!model.data(model.index(2), ChatModel::PendingRole).toBool());
        QCOMPARE(model.data(model.index(2), ChatModel::SeqRole).toDouble(), 3.0);
    }

    void refusedPendingGoesAway()
    {
        ChatModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.addPending(1, QStringLiteral("me"), Qt::red, QStringLiteral("a"));
        model.addPending(2, QStringLiteral("me"), Qt::red, QStringLiteral("b"));
        model.removePending(1);
        QCOMPARE(texts(model), QStringList{"b"});
        model.removePending(99);
        QCOMPARE(model.rowCount(), 1);
    }

    void historyPrepends()
    {
        ChatModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy more(&model, &ChatModel::hasMoreChanged);
        model.resetStored({chatOp(10, 1, QStringLiteral("m10")), chatOp(11, 1, QStringLiteral("m11"))},
                          true);
        QVERIFY(model.hasMore());
        QCOMPARE(model.oldestSeq(), 10u);
        model.setLoadingOlder(true);
        // A page may overlap what we hold; overlapping messages are not doubled.
        model.prependHistory({chatOp(8, 1, QStringLiteral("m8")), chatOp(9, 1, QStringLiteral("m9")),
                              chatOp(10, 1, QStringLiteral("m10"))},
                             false);
        QCOMPARE(texts(model), (QStringList{"m8", "m9", "m10", "m11"}));
        QVERIFY(!model.hasMore());
        QVERIFY(!model.loadingOlder());
        QCOMPARE(more.count(), 2);
    }

    void resetKeepsPending()
    {
        ChatModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.addStored(chatOp(1, 1, QStringLiteral("old")));
        model.addPending(42, QStringLiteral("me"), Qt::red, QStringLiteral("waiting"));
        model.resetStored({chatOp(5, 1, QStringLiteral("new"))}, false);
        QCOMPARE(texts(model), (QStringList{"new", "waiting"}));
        model.clear();
        QCOMPARE(model.rowCount(), 0);
    }
};

QTEST_GUILESS_MAIN(TestChatModel)
#include "tst_chatmodel.moc"
