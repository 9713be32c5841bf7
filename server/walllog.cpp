#include "server/walllog.h"

#include "server/wallserver.h"

#include <algorithm>

namespace scrawl {

WallLog::WallLog(WallServer &server)
    : m_server(server)
{
}

WallLog::~WallLog() = default;

void WallLog::unload(Room *room)
{
    dropWaiters(room);
}

bool WallLog::holdsWork(const Room *room) const
{
    return std::any_of(m_waiters.begin(), m_waiters.end(), [room](const Waiter &w) { return w.room == room; });
}

void WallLog::whenStored(Room *room, std::function<void(bool)> run)
{
    whenLanded(room, room->model.seq(), std::move(run));
}

void WallLog::whenLanded(Room *room, std::uint64_t seq, std::function<void(bool)> run)
{
    if (room->committedSeq >= seq) {
        run(true);
        return;
    }
    m_waiters.push_back({room, room->epoch, seq, std::move(run)});
}

void WallLog::runWaiters()
{
    std::vector<Waiter> ready;
    for (auto it = m_waiters.begin(); it != m_waiters.end();) {
        if (it->room->epoch != it->epoch || it->room->committedSeq >= it->seq) {
            ready.push_back(std::move(*it));
            it = m_waiters.erase(it);
        } else {
            ++it;
        }
    }
    for (Waiter &w : ready)
        w.run(w.room->epoch == w.epoch);
}

void WallLog::dropWaiters(const Room *room)
{
    std::vector<Waiter> dropped;
    for (auto it = m_waiters.begin(); it != m_waiters.end();) {
        if (it->room == room) {
            dropped.push_back(std::move(*it));
            it = m_waiters.erase(it);
        } else {
            ++it;
        }
    }
    for (Waiter &w : dropped)
        w.run(false);
}

pb::ClusterAccess governingAccess(const Room &room)
{
    pb::ClusterAccess access;
    access.set_locked(room.access.locked);
    access.set_protected_work(room.access.protectedWork);
    for (const auto &[user, role] : room.roles) {
        pb::ClusterRole *r = access.add_roles();
        r->set_user(user);
        r->set_role(role);
    }
    return access;
}

void applyAccess(Room *room, const pb::ClusterAccess &change)
{
    if (change.has_locked())
        room->access.locked = change.locked();
    if (change.has_protected_work())
        room->access.protectedWork = change.protected_work();
    for (const pb::ClusterRole &r : change.roles()) {
        if (pb::Role_IsValid(r.role()) && r.role() > pb::ROLE_MEMBER)
            room->roles[r.user()] = pb::Role(r.role());
        else
            room->roles.erase(r.user());
    }
}

} // namespace scrawl
