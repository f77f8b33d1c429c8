#include "mtlsd/proxy/limits.hpp"

namespace mtlsd::proxy {

bool connection_counter::try_acquire() {
  const std::size_t max = max_.load(std::memory_order_relaxed);
  std::size_t current = active_.load(std::memory_order_relaxed);
  do {
    if (max != 0 && current >= max) return false;
  } while (!active_.compare_exchange_weak(current, current + 1, std::memory_order_relaxed));
  return true;
}

connection_slot& connection_slot::operator=(connection_slot&& other) noexcept {
  if (this != &other) {
    reset();
    global_ = other.global_;
    service_ = other.service_;
    other.global_ = other.service_ = nullptr;
  }
  return *this;
}

void connection_slot::reset() {
  if (global_) global_->release();
  if (service_) service_->release();
  global_ = service_ = nullptr;
}

bool connection_slot::add_service(connection_counter& service) {
  if (service_ || !service.try_acquire()) return service_ == &service;
  service_ = &service;
  return true;
}

connection_slot try_admit_global(connection_counter& global, limit_scope& refused_by) {
  refused_by = limit_scope::none;
  if (global.try_acquire()) return connection_slot(&global, nullptr);
  refused_by = limit_scope::global;
  return {};
}

connection_slot try_admit(connection_counter& global, connection_counter& service, limit_scope& refused_by) {
  refused_by = limit_scope::none;
  if (!global.try_acquire()) {
    refused_by = limit_scope::global;
    return {};
  }
  if (!service.try_acquire()) {
    global.release();
    refused_by = limit_scope::service;
    return {};
  }
  return connection_slot(&global, &service);
}

}  // namespace mtlsd::proxy
