// NotesModel under QAbstractItemModelTester (Fatal: any broken model contract aborts the test),
// driven the way the app drives it: two WallClients on a real in-process server, one making
// changes (its own rows change at once, pending, then stored), the other seeing them arrive.
// Covers adds, edits, moves, deletes, undo/redo, clear, a join that brings a snapshot, and
// switching walls; after each step both models hold what the wall holds, and a mirror that reads
// rows only when a signal says so (as a view does) agrees with them.

#include "app/notesmodel.h"
#include "app/wallclient.h"
#include "server/wallserver.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <memory>

using namespace scrawl;

class TestNotesModel : public QObject {
    Q_OBJECT

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<WallServer> m_server;

    QString address() const { return QStringLiteral("127.0.0.1:%1").arg(m_server->port()); }

    std::unique_ptr<WallClient> makeClient(const QString &name, const QString &wall)
    {
        auto c = std::make_unique<WallClient>();
        c->setDisplayName(name);
        c->connectToWall(address(), wall);
        return c;
    }

    // One row as "text@x,y" (pending marked with *).
    static QString rowText(const NotesModel &m, int r)
    {
        const QModelIndex i = m.index(r);
        return QStringLiteral("%1@%2,%3%4")
            .arg(m.data(i, NotesModel::TextRole).toString())
            .arg(m.data(i, NotesModel::XRole).toDouble())
            .arg(m.data(i, NotesModel::YRole).toDouble())
            .arg(m.data(i, NotesModel::PendingRole).toBool() ? QStringLiteral("*") : QString());
    }
    // The model's rows, in row order.
    static QStringList rows(const NotesModel &m)
    {
        QStringList out;
        for (int r = 0; r < m.rowCount(); ++r)
            out << rowText(m, r);
        return out;
    }

    // What a view knows of the model: rows read only when a signal says they changed. A change
    // made without its signal (which QAbstractItemModelTester cannot see) leaves it behind.
    struct ViewMirror {
        QStringList rows;
        explicit ViewMirror(NotesModel *m) : rows(TestNotesModel::rows(*m))
        {
            QObject::connect(
                m, &QAbstractItemModel::rowsInserted, m, [this, m](const QModelIndex &, int first, int last) {
                    for (int r = first; r <= last; ++r)
                        rows.insert(r, rowText(*m, r));
                });
            QObject::connect(m, &QAbstractItemModel::rowsRemoved, m,
                [this](const QModelIndex &, int first, int last) { rows.remove(first, last - first + 1); });
            QObject::connect(m, &QAbstractItemModel::dataChanged, m,
                [this, m](const QModelIndex &tl, const QModelIndex &br) {
                    for (int r = tl.row(); r <= br.row(); ++r)
                        rows[r] = rowText(*m, r);
                });
            QObject::connect(
                m, &QAbstractItemModel::modelReset, m, [this, m] { rows = TestNotesModel::rows(*m); });
        }
    };

private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        ServerOptions o;
        o.host = QHostAddress::LocalHost;
        o.port = 0;
        o.dataDir = m_dir->path();
        m_server = std::make_unique<WallServer>(o);
        QString error;
        QVERIFY2(m_server->start(&error), qPrintable(error));
    }

    void cleanup()
    {
        m_server.reset();
        m_dir.reset();
    }

    void modelContractHoldsThroughEveryNoteChange()
    {
        auto a = makeClient(QStringLiteral("Ann"), QStringLiteral("notes"));
        auto b = makeClient(QStringLiteral("Bob"), QStringLiteral("notes"));
        QAbstractItemModelTester ta(a->notes(), QAbstractItemModelTester::FailureReportingMode::Fatal);
        QAbstractItemModelTester tb(b->notes(), QAbstractItemModelTester::FailureReportingMode::Fatal);
        QTRY_COMPARE(a->state(), WallClient::Connected);
        QTRY_COMPARE(b->state(), WallClient::Connected);
        NotesModel &ma = *a->notes();
        NotesModel &mb = *b->notes();
        ViewMirror va(&ma), vb(&mb);
        // Checked at the end of each step: what a view shows is what the model holds.
        auto viewsAgree = [&] { return va.rows == rows(ma) && vb.rows == rows(mb); };

        // Adds: shown at once as pending on A, then stored; B gets them in order.
        const QString k1 = a->addNote(10, 20, QStringLiteral("one"));
        QCOMPARE(rows(ma), QStringList { QStringLiteral("one@10,20*") });
        const QString k2 = a->addNote(30, 40, QStringLiteral("two"));
        const QString k3 = a->addNote(50, 60, QStringLiteral("three"));
        QTRY_COMPARE(a->pendingCount(), 0);
        const QStringList three
            = { QStringLiteral("one@10,20"), QStringLiteral("two@30,40"), QStringLiteral("three@50,60") };
        QCOMPARE(rows(ma), three);
        QTRY_COMPARE(rows(mb), three);
        QVERIFY(viewsAgree());

        // Edits and moves (a move of a row in the middle changes that row only).
        QSignalSpy changedB(&mb, &QAbstractItemModel::dataChanged);
        a->editNote(k2, QStringLiteral("two!"));
        QCOMPARE(rows(ma).at(1), QStringLiteral("two!@30,40*"));
        a->moveNote(k2, 35, 45);
        QTRY_COMPARE(a->pendingCount(), 0);
        QTRY_COMPARE(rows(mb).at(1), QStringLiteral("two!@35,45"));
        QVERIFY(!changedB.isEmpty());
        for (const auto &args : changedB) {
            QCOMPARE(args.at(0).toModelIndex().row(), 1);
            QCOMPARE(args.at(1).toModelIndex().row(), 1);
        }
        QCOMPARE(rows(ma), rows(mb));
        QVERIFY(viewsAgree());

        // Delete a row in the middle.
        a->deleteNote(k2);
        QCOMPARE(rows(ma), (QStringList { QStringLiteral("one@10,20"), QStringLiteral("three@50,60") }));
        QTRY_COMPARE(a->pendingCount(), 0);
        QTRY_COMPARE(rows(mb), rows(ma));
        QVERIFY(viewsAgree());

        // Undo brings the deleted note back; redo takes it away again; undo of the move and the
        // edit go back step by step.
        a->undo();
        QTRY_COMPARE(a->pendingCount(), 0);
        QTRY_COMPARE(mb.rowCount(), 3);
        QVERIFY(rows(mb).contains(QStringLiteral("two!@35,45")));
        a->redo();
        QTRY_COMPARE(a->pendingCount(), 0);
        QTRY_COMPARE(mb.rowCount(), 2);
        a->undo();
        a->undo();
        QTRY_COMPARE(a->pendingCount(), 0);
        QTRY_VERIFY(rows(mb).contains(QStringLiteral("two!@30,40")));
        a->undo();
        QTRY_COMPARE(a->pendingCount(), 0);
        QTRY_VERIFY(rows(mb).contains(QStringLiteral("two@30,40")));
        QTRY_COMPARE(rows(ma), rows(mb));
        QVERIFY(viewsAgree());

        // B's own note, and A deleting the first one: rows from both authors mix.
        const QString kb = b->addNote(70, 80, QStringLiteral("bob's"));
        QVERIFY(!kb.isEmpty());
        a->deleteNote(k1);
        QTRY_COMPARE(a->pendingCount(), 0);
        QTRY_COMPARE(b->pendingCount(), 0);
        QTRY_COMPARE(mb.rowCount(), 3);
        QTRY_COMPARE(rows(ma), rows(mb));

        // Many moves, so that a newcomer's join brings a snapshot (smaller than the ops).
        for (int i = 0; i < 60; ++i)
            a->moveNote(k3, 100 + i, 200);
        QTRY_COMPARE(a->pendingCount(), 0);
        QTRY_COMPARE(rows(mb), rows(ma));
        auto c = std::make_unique<WallClient>();
        c->setDisplayName(QStringLiteral("Cy"));
        QAbstractItemModelTester tc(c->notes(), QAbstractItemModelTester::FailureReportingMode::Fatal);
        QSignalSpy resetC(c->notes(), &QAbstractItemModel::modelReset);
        c->connectToWall(address(), QStringLiteral("notes"));
        QTRY_COMPARE(c->state(), WallClient::Connected);
        QVERIFY(c->lastJoin().snapshot);
        QVERIFY(!resetC.isEmpty());
        // Same notes; the row order may differ (a snapshot lists notes by key, a live model in
        // the order they came back).
        QStringList fromSnapshot = rows(*c->notes()), live = rows(ma);
        fromSnapshot.sort();
        live.sort();
        QCOMPARE(fromSnapshot, live);

        // Clear: every row goes, for everyone.
        a->clearWall();
        QTRY_COMPARE(a->pendingCount(), 0);
        QTRY_COMPARE(ma.rowCount(), 0);
        QTRY_COMPARE(mb.rowCount(), 0);
        QTRY_COMPARE(c->notes()->rowCount(), 0);
        QVERIFY(viewsAgree());

        // Notes after a clear, then B switches to another wall: its rows go.
        b->addNote(1, 2, QStringLiteral("after"));
        QTRY_COMPARE(b->pendingCount(), 0);
        QTRY_COMPARE(ma.rowCount(), 1);
        b->connectToWall(address(), QStringLiteral("elsewhere"));
        QCOMPARE(mb.rowCount(), 0);
        QTRY_COMPARE(b->state(), WallClient::Connected);
        QCOMPARE(mb.rowCount(), 0);
        QCOMPARE(ma.rowCount(), 1);
        QVERIFY(viewsAgree());
    }

    // The model on its own: inserts at the end, in-place updates, removals from the middle and a
    // reset, with the tester watching; an update to the same values emits nothing.
    void directUpdates()
    {
        NotesModel m;
        QAbstractItemModelTester t(&m, QAbstractItemModelTester::FailureReportingMode::Fatal);
        ViewMirror view(&m);
        QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
        NotesModel::Note n;
        for (std::uint64_t k = 1; k <= 5; ++k) {
            n.key = k;
            n.text = QString::number(k);
            m.update(k, &n);
        }
        QCOMPARE(m.rowCount(), 5);
        n.key = 3;
        n.text = QStringLiteral("3");
        m.update(3, &n);
        QCOMPARE(changed.count(), 0);
        n.text = QStringLiteral("three");
        m.update(3, &n);
        QCOMPARE(changed.count(), 1);
        QCOMPARE(m.data(m.index(2), NotesModel::TextRole).toString(), QStringLiteral("three"));
        m.update(2, nullptr);
        m.update(42, nullptr); // not there: nothing happens
        QCOMPARE(m.rowCount(), 4);
        QCOMPARE(m.rowOf(3), 1);
        QCOMPARE(view.rows, rows(m));
        m.reset({});
        QCOMPARE(m.rowCount(), 0);
        QCOMPARE(view.rows, rows(m));
    }
};

QTEST_GUILESS_MAIN(TestNotesModel)
#include "tst_notesmodel.moc"
