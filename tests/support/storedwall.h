#pragma once

// What a server's SQLite file holds, read the way a test needs it: straight from the file (not
// through the server), so that a test checks what storage holds rather than what the server says.

#include <QDateTime>
#include <QDir>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QString>
#include <QtDebug>

#include <cstdint>
#include <map>

namespace scrawl::test {

// The op log of one wall: seq -> the serialised op as stored.
inline std::map<std::uint64_t, QByteArray> storedOpRows(const QString &dataDir, const QString &wall)
{
    std::map<std::uint64_t, QByteArray> out;
    const QString name = QStringLiteral("reader-%1").arg(QDateTime::currentMSecsSinceEpoch());
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(QDir(dataDir).filePath(QStringLiteral("scrawl.sqlite")));
        // Read-write on purpose: after a kill -9 the first opener recovers the WAL.
        if (db.open()) {
            QSqlQuery q(db);
            q.prepare(QStringLiteral("SELECT ops.seq, ops.body FROM ops JOIN walls ON walls.id = "
                                     "ops.wall_id WHERE walls.name = ? ORDER BY ops.seq"));
            q.addBindValue(wall);
            if (q.exec()) {
                while (q.next())
                    out.emplace(q.value(0).toULongLong(), q.value(1).toByteArray());
            } else {
                qWarning() << "reading the op log failed:" << q.lastError().text();
            }
        } else {
            qWarning() << "cannot open the database:" << db.lastError().text();
        }
    }
    QSqlDatabase::removeDatabase(name);
    return out;
}

// The server's own SQLite connection (same process, same thread): to make storage fail for real.
inline QSqlDatabase serverDatabase()
{
    for (const QString &name : QSqlDatabase::connectionNames()) {
        // The main storage's connection; the image store keeps its own, on its own thread.
        if (name.startsWith(QLatin1String("scrawl-")) && !name.startsWith(QLatin1String("scrawl-images")))
            return QSqlDatabase::database(name, false);
    }
    return {};
}

} // namespace scrawl::test
