// MembersModel under QAbstractItemModelTester: join list, presence in and out, a user with two
// sessions counted once, cursors.

#include "app/membersmodel.h"
#include "core/protocol.h"

#include <QAbstractItemModelTester>
#include <QTest>

using namespace scrawl;

namespace {
pb::Member member(std::uint64_t id, const QString &name, std::uint32_t color = 0xff0000)
{
    pb::Member m;
    m.set_user_id(id);
    m.set_name(toWire(name));
    m.set_color(color);
    return m;
}

QStringList names(const MembersModel &m)
{
    QStringList out;
    for (int i = 0; i < m.rowCount(); ++i)
        out << m.data(m.index(i), MembersModel::NameRole).toString();
    return out;
}
} // namespace

class TestMembersModel : public QObject
{
    Q_OBJECT

private slots:
    void joinAndPresence()
    {
        MembersModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setSelf(1);
        model.reset({member(1, QStringLiteral("Ann")), member(2, QStringLiteral("Bob"))});
        QCOMPARE(names(model), (QStringList{"Ann", "Bob"}));
        QVERIFY(model.data(model.index(0), MembersModel::IsSelfRole).toBool());
        QVERIFY(!model.data(model.index(1), MembersModel::IsSelfRole).toBool());
        QCOMPARE(model.data(model.index(1), MembersModel::UserIdRole).toString(), QStringLiteral("2"));
        QCOMPARE(model.data(model.index(0), MembersModel::ColorRole).value<QColor>(), QColor(Qt::red));

        model.setPresence(member(3, QStringLiteral("Cy")), true);
        QCOMPARE(names(model), (QStringList{"Ann", "Bob", "Cy"}));
        model.setPresence(member(2, QStringLiteral("Bob")), false);
        QCOMPARE(names(model), (QStringList{"Ann", "Cy"}));
        model.setPresence(member(9, QStringLiteral("Nobody")), false); // unknown: ignored
        QCOMPARE(model.rowCount(), 2);
    }

    void twoSessionsCountOnce()
    {
        MembersModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.reset({member(5, QStringLiteral("Eve")), member(5, QStringLiteral("Eve"))});
        QCOMPARE(model.rowCount(), 1);
        model.setPresence(member(5, QStringLiteral("Eve2")), true);
        QCOMPARE(names(model), QStringList{"Eve2"}); // a rename arrives as presence
        model.setPresence(member(5, QStringLiteral("Eve2")), false);
        model.setPresence(member(5, QStringLiteral("Eve2")), false);
        QCOMPARE(model.rowCount(), 1);
        model.setPresence(member(5, QStringLiteral("Eve2")), false);
        QCOMPARE(model.rowCount(), 0);
    }

    void cursors()
    {
        MembersModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.reset({member(1, QStringLiteral("Ann"))});
        QVERIFY(!model.data(model.index(0), MembersModel::HasCursorRole).toBool());
        model.setCursor(1, QPointF(12.5, -3));
        QVERIFY(model.data(model.index(0), MembersModel::HasCursorRole).toBool());
        QCOMPARE(model.data(model.index(0), MembersModel::CursorXRole).toDouble(), 12.5);
        QCOMPARE(model.data(model.index(0), MembersModel::CursorYRole).toDouble(), -3.0);
        model.setCursor(42, QPointF(1, 1)); // before its presence: dropped, no crash
        // A reconnect (new member list) keeps where the pointer was.
        model.reset({member(1, QStringLiteral("Ann"))});
        QCOMPARE(model.data(model.index(0), MembersModel::CursorXRole).toDouble(), 12.5);
        model.clear();
        QCOMPARE(model.rowCount(), 0);
    }
};

QTEST_GUILESS_MAIN(TestMembersModel)
#include "tst_membersmodel.moc"
