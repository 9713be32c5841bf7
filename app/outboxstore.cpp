#include "app/outboxstore.h"

#include "app/appsettings.h"

#include <QCryptographicHash>
#include <QDataStream>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QSaveFile>
#include <QStandardPaths>

Q_LOGGING_CATEGORY(lcOutbox, "scrawl.app.outbox", QtInfoMsg)

namespace scrawl {

namespace {

constexpr quint32 kMagic = 0x5343'4f42; // "SCOB"
constexpr quint32 kVersion = 1;

} // namespace

OutboxStore::OutboxStore(QObject *parent)
    : QObject(parent)
{
    m_timer.setSingleShot(true);
    m_timer.setInterval(kSaveDelayMs);
    connect(&m_timer, &QTimer::timeout, this, &OutboxStore::flush);
}

OutboxStore::~OutboxStore() = default; // the owner flushes while its outbox still exists

QString OutboxStore::pathFor(const QString &profile, const QString &host, int port, const QString &wall)
{
    if (profile.isEmpty())
        return {};
    // A hash for the file name: wall names may hold any character and be 64 of them.
    const QByteArray key = (profile + QLatin1Char('\n') + host + QLatin1Char('\n')
                            + QString::number(port) + QLatin1Char('\n') + wall)
                               .toUtf8();
    const QString name = QString::fromLatin1(
        QCryptographicHash::hash(key, QCryptographicHash::Sha256).toHex().left(32));
    return AppSettings::dataDir()
         + QStringLiteral("/outbox/") + name + QStringLiteral(".outbox");
}

void OutboxStore::setKey(const QString &profile, const QString &host, int port, const QString &wall)
{
    const QString path = pathFor(profile, host, port, wall);
    if (path == m_path)
        return;
    flush();
    m_path = path;
    m_dirty = false;
}

void OutboxStore::markChanged()
{
    if (!enabled())
        return;
    m_dirty = true;
    // Not restarted by later changes: a long stroke is written every kSaveDelayMs while drawn.
    if (!m_timer.isActive())
        m_timer.start();
}

void OutboxStore::flush()
{
    m_timer.stop();
    if (!m_dirty || !enabled() || !m_source)
        return;
    if (write()) {
        m_dirty = false;
        emit saved();
    }
}

bool OutboxStore::write()
{
    const std::vector<pb::Op> ops = m_source();
    if (ops.empty()) {
        if (QFile::exists(m_path) && !QFile::remove(m_path)) {
            qCWarning(lcOutbox) << "cannot remove" << m_path;
            return false;
        }
        return true;
    }
    QDir().mkpath(QFileInfo(m_path).absolutePath());
    QSaveFile file(m_path);
    if (!file.open(QIODevice::WriteOnly)) {
        qCWarning(lcOutbox) << "cannot write" << m_path << file.errorString();
        return false;
    }
    QDataStream out(&file);
    out << kMagic << kVersion << quint32(ops.size());
    for (const pb::Op &op : ops)
        out << QByteArray::fromStdString(op.SerializeAsString());
    if (out.status() != QDataStream::Ok || !file.commit()) {
        qCWarning(lcOutbox) << "cannot write" << m_path << file.errorString();
        return false;
    }
    qCDebug(lcOutbox) << "kept" << ops.size() << "ops in" << m_path;
    return true;
}

std::vector<pb::Op> OutboxStore::load() const
{
    return enabled() ? loadFile(m_path) : std::vector<pb::Op>{};
}

std::vector<pb::Op> OutboxStore::loadFile(const QString &path)
{
    std::vector<pb::Op> ops;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return ops;
    QDataStream in(&file);
    quint32 magic = 0, version = 0, count = 0;
    in >> magic >> version >> count;
    if (magic != kMagic || version != kVersion) {
        qCWarning(lcOutbox) << path << "is not an outbox this app knows; ignored";
        return ops;
    }
    for (quint32 i = 0; i < count && in.status() == QDataStream::Ok; ++i) {
        QByteArray bytes;
        in >> bytes;
        pb::Op op;
        if (in.status() != QDataStream::Ok || !op.ParseFromArray(bytes.constData(), int(bytes.size()))) {
            qCWarning(lcOutbox) << path << "is damaged after" << ops.size() << "ops";
            break;
        }
        ops.push_back(std::move(op));
    }
    return ops;
}

} // namespace scrawl
