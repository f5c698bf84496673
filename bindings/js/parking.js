// Parking: how a wait that cannot be admitted now waits, for every class
// over a RawLimiter (Limiter, KeyedSemaphore, RateLimiter, guard). The wait
// is parked in wasm under a ticket; what settles it waits here under the
// same ticket until a drain (scheduled by the wasm side through `notify`)
// reports it.
//
// Guarantees:
// - Every parked wait settles exactly once: admitted (a permit id), failed
//   (the core's error) or given up (abort, timeout: the wasm wait is
//   cancelled at once and its place freed).
// - No permit leaks: a permit reported for a wait given up on in the same
//   turn is released by the drain.
// - Tickets are small integers, reused; one freed while a drain runs is
//   reused only after it, so a report still in the drain's batch never
//   settles the ticket's next owner. Tables let go after a crowd.
// - Waiting `run` calls without a signal share a Cohort: one Promise
//   reaction each instead of resolving functions of their own.
import { MUST_WAIT, FAILED, WANTS_NOTIFY, forEachDrained, takeError, lastError } from './boundary.js';
import { abortReason } from './abort-reason.js';
import { onAbort } from './on-abort.js';
import { runHolding, NO_SIGNAL } from './permit.js';
import { clearTimer, setTimer } from './timers.js';

/**
 * The contended path (Limiter, KeyedSemaphore, RateLimiter), without a
 * Promise from Rust: the wait is
 * parked in wasm under a ticket, and what settles it waits here, under the
 * same ticket, until a drain (scheduled by the wasm side through `notify`)
 * reports it. Resolves to a permit id; an abort cancels the parked wait at once.
 */
export function parkForPermit(parking, key, cost, signal) {
  const id = admitOrPark(parking, key, cost);
  if (id !== MUST_WAIT) return id;
  const ticket = parking.parkingTicket;
  return new Promise((resolve, reject) => {
    let remove;
    const settle = (granted, error) => {
      remove?.();
      if (granted === FAILED) reject(error);
      else resolve(granted);
    };
    parking.runs[ticket] = null;
    parking.settles[ticket] = settle;
    if (signal) {
      remove = onAbort(signal, () => {
        if (parking.settles[ticket] !== settle) return; // settled meanwhile
        parking.forget(ticket);
        parking.raw.cancel(ticket);
        reject(abortReason(signal));
      });
    }
  });
}

/**
 * The guard's bounded wait: like `parkForPermit`, but given up after `ms`.
 * Resolves to a permit id, or `undefined` when the time ran out (the wasm
 * wait cancelled); rejects when the core refuses (e.g. the queue is full).
 */
export function parkWithin(parking, key, cost, ms) {
  const id = admitOrPark(parking, key, cost);
  if (id !== MUST_WAIT) return Promise.resolve(id);
  const ticket = parking.parkingTicket;
  return new Promise((resolve, reject) => {
    const settle = (granted, error) => {
      clearTimer(timer);
      if (granted === FAILED) reject(error);
      else resolve(granted);
    };
    const timer = setTimer(() => {
      if (parking.settles[ticket] !== settle) return; // the permit is on its way
      parking.forget(ticket);
      parking.raw.cancel(ticket);
      resolve(undefined);
    }, ms);
    parking.runs[ticket] = null;
    parking.settles[ticket] = settle;
  });
}

/**
 * `limiter.run(fn)` without a signal on the contended path. Consecutive
 * waiting calls share a Cohort (up to COHORT of them): each gets
 * `cohort.gate.then(cohort.step)`, one derived Promise and one reaction on
 * the shared gate, instead of a Promise with resolving functions of its
 * own. `fn` waits in `runs` under the ticket, the cohort and the call's
 * place in it in `settles` and `places`.
 */
export function parkToRun(parking, key, cost, fn) {
  const id = admitOrPark(parking, key, cost);
  if (id !== MUST_WAIT) return runHolding(parking.raw, id, fn, undefined);
  const ticket = parking.parkingTicket;
  let cohort = parking.cohort;
  if (cohort === null || cohort.size === COHORT) cohort = parking.cohort = new Cohort(parking);
  parking.runs[ticket] = fn;
  parking.settles[ticket] = cohort;
  parking.places[ticket] = cohort.size;
  cohort.size += 1;
  return cohort.gate.then(cohort.step);
}

/** How many waiting `run` calls share one gate. */
const COHORT = 256;

/** What a parked `run` that failed in the core settles with (made into a rejection only when taken). */
class Failure {
  constructor(error) {
    this.error = error;
  }
}

/**
 * Waiting `run` calls sharing one gate Promise. The gate opens when the
 * first of them is admitted; its reactions then call `step` once per call,
 * in the order the calls were made (reactions of one Promise run in order),
 * and each step returns that call's result: the run's Promise when it was
 * admitted already, else the cohort itself, a thenable: the call's Promise
 * then calls `then` (in a later job, in the order of those steps, each
 * recorded in `awaiting`) with its resolving functions, which wait in
 * `resolves` for its admission. Until the gate opens a call holds no
 * resolving functions, and none holds a Promise of the cohort's making.
 */
class Cohort {
  constructor(parking) {
    this.parking = parking;
    /** Calls that joined. */
    this.size = 0;
    /** Steps taken (calls whose Promise has asked for its result). */
    this.taken = 0;
    this.open = null;
    this.gate = new Promise((resolve) => {
      this.open = resolve;
    });
    /** By place: the result of a call admitted before its Promise asked for it. */
    this.results = [];
    /** By place: the resolve of a call's Promise that asked before its admission. */
    this.resolves = [];
    /** Places whose Promise will call `then`, in order; `thens` of them have. */
    this.awaiting = [];
    this.thens = 0;
    this.step = () => this.take();
  }

  /** A call's result if known (settled or failed), else `undefined`. */
  result(place) {
    const result = this.results[place];
    if (result === undefined) return undefined;
    this.results[place] = undefined;
    return result instanceof Failure ? Promise.reject(result.error) : result;
  }

  take() {
    const place = this.taken;
    this.taken += 1;
    const result = this.result(place);
    if (result !== undefined) return result;
    this.awaiting.push(place);
    return this;
  }

  /** Called by the Promise of the call whose step returned the cohort. */
  then(resolve) {
    const place = this.awaiting[this.thens];
    this.awaiting[this.thens] = undefined;
    this.thens += 1;
    const result = this.result(place);
    if (result !== undefined) resolve(result);
    else this.resolves[place] = resolve;
  }

  /** The call at `place` is admitted (its run's Promise) or failed (a Failure). */
  settle(place, result) {
    const resolve = this.resolves[place];
    if (resolve !== undefined) {
      this.resolves[place] = undefined;
      resolve(result instanceof Failure ? Promise.reject(result.error) : result);
      return;
    }
    this.results[place] = result;
    if (this.open !== null) {
      this.open();
      this.open = null;
      // Opened: later calls start a cohort of their own.
      if (this.parking.cohort === this) this.parking.cohort = null;
    }
  }
}

/**
 * Admit now (a permit id) or park in wasm under a fresh ticket (`MUST_WAIT`;
 * the ticket is then `parking.parkingTicket`, for the caller to file its
 * settler under before anything else can park). One wasm call (the unkeyed
 * one passes no string); the `notify` function crosses only when the wasm
 * side asks for it (`WANTS_NOTIFY`: the first wait after an idle spell).
 */
export function admitOrPark(parking, key, cost) {
  // The ticket a wait would park under, taken only if it does (nothing
  // else runs meanwhile: the wasm side only schedules `notify`).
  const free = parking.free;
  const reuse = free.length !== 0;
  const ticket = reuse ? free[free.length - 1] : parking.made + 1;
  const raw = parking.raw;
  const id = key === '' ? raw.acquireOrParkUnkeyed(cost, ticket) : raw.acquireOrPark(key, cost, ticket);
  if (id !== MUST_WAIT && id !== WANTS_NOTIFY) {
    if (id === FAILED) throw lastError(raw);
    return id;
  }
  if (reuse) free.pop();
  else parking.made = ticket;
  if (id === WANTS_NOTIFY) raw.setNotify(parking.notify);
  parking.parkingTicket = ticket;
  return MUST_WAIT;
}

/**
 * Run a parked `run`'s `fn` holding permit `id`: the Promise of its result
 * (the permit goes back when it settles), or a Failure when `fn` throws.
 */
function startParked(raw, id, fn) {
  let work;
  try {
    work = fn(NO_SIGNAL);
  } catch (error) {
    raw.release(id);
    return new Failure(error);
  }
  const done = Promise.resolve(work);
  const release = () => {
    raw.release(id);
  };
  done.then(release, release);
  return done;
}

/** Ticket tables up to this many entries stay allocated while idle. */
const KEEP_TICKETS = 1024;

/**
 * The wasm side's parking state for one RawLimiter (of a Limiter,
 * KeyedSemaphore or RateLimiter), and its drain. Tickets are
 * small integers, reused; a ticket freed while a drain runs (user code runs
 * inside it) is reused only after the drain, so a report still in the
 * drain's batch can never settle the ticket's next owner.
 */
export function parkingFor(raw) {
  const parking = {
    raw,
    /** By ticket: the `fn` of a parked `run`, or `null` for a bare permit wait. */
    runs: [],
    /** By ticket: the Cohort of a parked `run`, or `settle(id, error)` of a permit wait. */
    settles: [],
    free: [],
    freedInDrain: [],
    /** Tickets ever made (the next new one is `made + 1`). */
    made: 0,
    draining: false,
    notify: null,
    /** The ticket of the wait parked last (for its caller to file its settler under). */
    parkingTicket: 0,
    /** By ticket: a parked `run`'s place in its Cohort. */
    places: [],
    /** The Cohort that waiting `run` calls join, until it is full or opens. */
    cohort: null,
    give(ticket) {
      if (parking.draining) {
        parking.freedInDrain.push(ticket);
      } else {
        parking.free.push(ticket);
        parking.shrinkIfIdle();
      }
    },
    /** Every ticket free again after a crowd: let go of its tables. */
    shrinkIfIdle() {
      if (parking.made > KEEP_TICKETS && parking.free.length === parking.made) {
        parking.runs = [];
        parking.settles = [];
        parking.places = [];
        parking.free = [];
        parking.made = 0;
      }
    },
    forget(ticket) {
      parking.runs[ticket] = undefined;
      parking.settles[ticket] = undefined;
      parking.places[ticket] = undefined;
      parking.give(ticket);
    },
  };
  const visit = (ticket, id) => {
    const settle = parking.settles[ticket];
    if (settle === undefined) {
      // Given up on in the same turn: never leak the permit.
      if (id === FAILED) raw.takeError(ticket);
      else raw.release(id);
      return;
    }
    const fn = parking.runs[ticket];
    const place = parking.places[ticket];
    parking.forget(ticket);
    if (fn !== null) {
      // A parked `run`: `settle` is its Cohort.
      settle.settle(place, id === FAILED ? new Failure(takeError(raw, ticket)) : startParked(raw, id, fn));
    } else if (id === FAILED) {
      settle(FAILED, takeError(raw, ticket));
    } else {
      settle(id, undefined);
    }
  };
  const drain = () => {
    parking.draining = true;
    try {
      forEachDrained(raw, visit);
    } finally {
      parking.draining = false;
      const later = parking.freedInDrain;
      for (let i = 0; i < later.length; i += 1) parking.free.push(later[i]);
      later.length = 0;
      parking.shrinkIfIdle();
    }
  };
  parking.notify = () => queueMicrotask(drain);
  return parking;
}

/** A Limiter permit id (uncontended: one synchronous wasm call) or a Promise of one. */
export function limiterPermit(parking, key, cost, signal) {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  const id = parking.raw.tryAcquire(key, cost);
  if (id === FAILED) throw lastError(parking.raw);
  if (id !== MUST_WAIT) return id;
  return parkForPermit(parking, key, cost, signal);
}
