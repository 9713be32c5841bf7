#include "app/timeline.h"

#include "core/protocol.h"

#include <QDateTime>
#include <QLocale>
#include <QLoggingCategory>

#include <algorithm>

Q_LOGGING_CATEGORY(lcTimeline, "scrawl.app.timeline")

namespace scrawl {

namespace {
// A step forward of at most this many ops is applied to what is shown, op by op (the canvas
// redraws only what they change); a longer one shows the history's copy of the wall instead.
constexpr std::uint64_t kIncrementalSteps = 256;
// Authors named beside the time: those of the changes this far back from the position.
constexpr std::uint64_t kAuthorsWindow = 200;
} // namespace

Timeline::Timeline(QObject *parent)
    : QObject(parent)
    , m_past(new WallClient(true, this))
{
    m_retry.setSingleShot(true);
    connect(&m_retry, &QTimer::timeout, this, [this] {
        m_asked = false; // refused a while ago, or never answered (the server was busy): again
        requestPage();
    });
    m_playTimer.setInterval(16);
    connect(&m_playTimer, &QTimer::timeout, this, &Timeline::playTick);
}

Timeline::~Timeline() = default;

void Timeline::setClient(WallClient *client)
{
    if (m_client == client)
        return;
    close();
    if (m_client)
        m_client->disconnect(this);
    m_client = client;
    if (client) {
        connect(client, &WallClient::opsPage, this, &Timeline::onPage);
        connect(client, &WallClient::opsRefused, this, [this] {
            // Too many pages a minute (the server's history bucket refills one a second).
            if (m_open)
                m_retry.start(kRefusedWaitMs);
        });
        connect(client, &WallClient::opLanded, this, &Timeline::onOpLanded);
        connect(client, &WallClient::joined, this, &Timeline::onJoined);
        // Another wall: this one's past is not its.
        connect(client, &WallClient::addressChanged, this, &Timeline::close);
    }
    emit clientChanged();
}

double Timeline::loadedFraction() const
{
    if (m_ready || m_target <= m_history.firstSeq())
        return m_ready ? 1.0 : 0.0;
    return double(m_history.lastSeq() - m_history.firstSeq()) / double(m_target - m_history.firstSeq());
}

void Timeline::show()
{
    if (m_open || !m_client)
        return;
    if (m_client->state() != WallClient::Connected) {
        m_client->showNotice(tr("The wall's history comes from the server: wait until you are "
                                "connected, then open the timeline again."));
        return;
    }
    m_open = true;
    m_ready = false;
    m_error.clear();
    m_fromBase = false;
    m_names.clear();
    WallModel empty;
    empty.setCapacity(m_client->model().capacity());
    m_history.reset(std::move(empty));
    m_target = m_client->model().seq();
    m_headSeq = m_target;
    m_position = 0;
    emit openChanged();
    emit loadedChanged();
    if (m_target == 0)
        finishLoading();
    else
        requestPage();
}

void Timeline::close()
{
    if (!m_open)
        return;
    pause();
    m_retry.stop();
    m_open = false;
    m_ready = false;
    m_asked = false;
    // Its memory goes with it: opening again fetches the history anew.
    m_history.reset(WallModel{});
    emit openChanged();
    emit loadedChanged();
}

void Timeline::fail(const QString &error)
{
    m_error = error;
    emit loadedChanged();
}

void Timeline::requestPage()
{
    if (!m_open || !m_client || m_asked || m_client->state() != WallClient::Connected)
        return;
    m_asked = true;
    m_client->requestOps(m_history.lastSeq(), m_pageOps);
    m_retry.start(kPageWaitMs);
}

void Timeline::onPage(const pb::OpsPage &page)
{
    m_asked = false;
    m_retry.stop();
    if (!m_open || page.after_seq() != m_history.lastSeq())
        return; // an answer to a question no longer asked
    m_headSeq = page.head_seq();
    if (page.gone()) {
        // The oldest ops are no longer kept: history starts at the snapshot kept for it.
        pb::WallSnapshot base;
        WallModel start;
        start.setCapacity(m_client->model().capacity());
        if (m_history.lastSeq() == 0 && !page.base().empty() && base.ParseFromString(page.base())
            && !start.load(base)) {
            m_fromBase = true;
            m_history.reset(std::move(start));
            emit loadedChanged();
            requestPage();
            return;
        }
        // Nothing to start from: the timeline starts now.
        qCInfo(lcTimeline) << "the server keeps no history after" << page.after_seq();
        m_fromBase = true;
        m_history.reset(m_client->model());
        m_target = m_history.lastSeq();
        finishLoading();
        return;
    }
    for (const pb::Op &op : page.ops()) {
        if (op.seq() <= m_history.lastSeq())
            continue;
        if (!m_history.append(op))
            break;
        if (op.has_chat() && !op.chat().author_name().empty())
            m_names[op.author()] = fromWire(op.chat().author_name());
    }
    if (!m_ready) {
        if (m_history.lastSeq() >= m_target || page.ops_size() == 0)
            finishLoading();
        else
            requestPage();
        emit loadedChanged();
        return;
    }
    // Catching up on what happened meanwhile (a gap after a reconnect).
    if (m_client && m_history.lastSeq() < m_client->model().seq() && page.ops_size() > 0)
        requestPage();
    emit loadedChanged();
}

void Timeline::finishLoading()
{
    m_ready = true;
    m_position = m_history.lastSeq();
    qCInfo(lcTimeline).nospace() << "timeline ready: changes " << m_history.firstSeq() << " to "
                                 << m_history.lastSeq() << ", " << m_history.checkpointCount() << " checkpoints";
    emit loadedChanged();
    showPosition();
    // What landed while the pages came in.
    if (m_client && m_history.lastSeq() < m_client->model().seq())
        requestPage();
}

void Timeline::onOpLanded(const pb::Op &op)
{
    if (!m_open || !m_ready)
        return;
    if (op.seq() == m_history.lastSeq() + 1) {
        m_history.append(op);
        if (op.has_chat() && !op.chat().author_name().empty())
            m_names[op.author()] = fromWire(op.chat().author_name());
        emit loadedChanged();
    } else if (op.seq() > m_history.lastSeq() + 1) {
        requestPage();
    }
}

void Timeline::onJoined()
{
    if (m_copyWall.isEmpty() || !m_client || m_client->wall() != m_copyWall)
        return;
    const QString wall = std::exchange(m_copyWall, QString());
    const pb::WallSnapshot clip = std::exchange(m_copyClip, pb::WallSnapshot());
    if (m_client->model().seq() > 0) {
        m_client->showNotice(tr("A wall named \"%1\" already has changes: nothing was copied onto it. "
                                "Open the timeline on the original wall and copy into a new name.")
                                 .arg(wall));
        return;
    }
    m_client->place(clip, WallClient::clipBounds(clip).center());
    m_client->showNotice(tr("This wall starts as the original was at %1.").arg(m_copyWhen));
}

void Timeline::setPosition(std::uint64_t seq)
{
    seq = std::clamp(seq, m_history.firstSeq(), m_history.lastSeq());
    if (seq == m_position || !m_ready)
        return;
    m_position = seq;
    emit positionChanged();
    // A drag moves the slider many times a frame: the wall follows once per pass of the loop.
    if (!std::exchange(m_showScheduled, true))
        QMetaObject::invokeMethod(this, &Timeline::showPosition, Qt::QueuedConnection);
}

void Timeline::stepBy(int ops)
{
    const std::int64_t to = std::int64_t(m_position) + ops;
    setPosition(to < 0 ? 0 : std::uint64_t(to));
}

void Timeline::showPosition()
{
    m_showScheduled = false;
    if (!m_open || !m_ready || !m_client)
        return;
    const std::uint64_t shown = m_past->model().seq();
    if (m_position > shown && m_position - shown <= kIncrementalSteps && shown >= m_history.firstSeq()
        && m_past->wall() == m_client->wall()) {
        for (std::uint64_t s = shown + 1; s <= m_position; ++s)
            m_past->applyPast(*m_history.op(s));
    } else if (m_position != shown || m_past->wall() != m_client->wall()) {
        m_past->showPast(m_history, m_position, *m_client);
    }
    qCInfo(lcTimeline) << "timeline shows seq" << m_past->model().seq();
    emit positionChanged();
}

QString Timeline::timeText() const
{
    if (!m_ready)
        return {};
    const std::int64_t ms = m_history.timeAt(m_position);
    const QString change = m_position == m_history.firstSeq() && m_history.firstSeq() == 0
                               ? tr("before the first change")
                               : tr("change %1 of %2").arg(QLocale().toString(qulonglong(m_position)),
                                                           QLocale().toString(qulonglong(m_history.lastSeq())));
    if (ms <= 0)
        return change;
    const QDateTime when = QDateTime::fromMSecsSinceEpoch(ms);
    return tr("%1 · %2").arg(QLocale().toString(when, QStringLiteral("d MMM yyyy, HH:mm:ss")), change);
}

QString Timeline::nameOf(std::uint64_t author) const
{
    if (m_client) {
        if (const QString name = m_client->memberName(QString::number(author)); !name.isEmpty())
            return name;
    }
    if (const auto it = m_names.find(author); it != m_names.end())
        return it->second;
    return tr("person %1").arg(author);
}

QString Timeline::authorsText() const
{
    if (!m_ready || m_position <= m_history.firstSeq())
        return {};
    auto authors = m_history.authorsBetween(m_position > kAuthorsWindow ? m_position - kAuthorsWindow : 0, m_position);
    std::sort(authors.begin(), authors.end(), [](const auto &a, const auto &b) { return a.second > b.second; });
    QStringList names;
    for (const auto &[author, count] : authors) {
        if (names.size() == 3) {
            names << tr("%n more", nullptr, int(authors.size()) - 3);
            break;
        }
        names << nameOf(author);
    }
    return names.isEmpty() ? QString() : tr("by %1").arg(names.join(QStringLiteral(", ")));
}

QString Timeline::reachText() const
{
    if (!m_open)
        return {};
    if (!m_ready)
        return tr("Fetching the wall's history… %1%").arg(int(loadedFraction() * 100));
    if (!m_fromBase)
        return tr("History from the wall's first change.");
    const std::int64_t ms = m_history.timeAt(m_history.firstSeq() + 1);
    if (m_history.lastSeq() == m_history.firstSeq())
        return tr("This server keeps no older history of this wall.");
    return tr("History from change %1%2: this server keeps no older changes.")
        .arg(QLocale().toString(qulonglong(m_history.firstSeq())),
             ms > 0 ? tr(" (%1)").arg(QLocale().toString(QDateTime::fromMSecsSinceEpoch(ms),
                                                         QStringLiteral("d MMM yyyy, HH:mm")))
                    : QString());
}

void Timeline::setSpeed(int speed)
{
    speed = std::clamp(speed, 1, 32);
    if (speed == m_speed)
        return;
    m_speed = speed;
    emit speedChanged();
}

void Timeline::play()
{
    if (!m_ready || m_playTimer.isActive())
        return;
    if (m_position >= m_history.lastSeq())
        setPosition(m_history.firstSeq()); // from the start again
    m_playBudgetMs = 0;
    m_playClock.start();
    m_playTimer.start();
    emit playingChanged();
}

void Timeline::pause()
{
    if (!m_playTimer.isActive())
        return;
    m_playTimer.stop();
    emit playingChanged();
}

void Timeline::playTick()
{
    // About as it happened: each change after the pause before it, a pause lasting at most
    // kMaxPlayGapMs, times the speed.
    m_playBudgetMs += double(m_playClock.restart()) * m_speed;
    std::uint64_t to = m_position;
    while (to < m_history.lastSeq()) {
        const std::int64_t gap = m_history.timeAt(to + 1) - m_history.timeAt(to);
        const double cost = std::clamp<double>(double(gap), kPlayStepMs, kMaxPlayGapMs);
        if (cost > m_playBudgetMs)
            break;
        m_playBudgetMs -= cost;
        ++to;
    }
    if (to != m_position)
        setPosition(to);
    if (to >= m_history.lastSeq())
        pause();
}

bool Timeline::copyToNewWall(const QString &name)
{
    const QString wall = name.trimmed();
    if (!m_ready || !m_client)
        return false;
    if (wall.isEmpty()) {
        fail(tr("Give the new wall a name."));
        return false;
    }
    if (wall == m_client->wall()) {
        fail(tr("\"%1\" is this wall: choose a new name for the copy.").arg(wall));
        return false;
    }
    m_copyClip = m_history.seek(m_position).visibleClip();
    m_copyWall = wall;
    m_copyWhen = QLocale().toString(QDateTime::fromMSecsSinceEpoch(m_history.timeAt(m_position)),
                                    QStringLiteral("d MMM yyyy, HH:mm"));
    const QString address = m_client->address();
    const QString certificate = m_client->encrypted() ? m_client->tlsFingerprint() : QString();
    close();
    m_client->connectToWall(address, wall, QString(), certificate);
    return true;
}

} // namespace scrawl
