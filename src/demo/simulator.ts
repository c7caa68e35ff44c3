/**
 * A simulated LiFePO4 BMS for `vbat demo`: a 16-cell (by default) 280 Ah pack that charges until
 * nearly full, rests, and discharges under a changing load, with the JSON structure of the
 * default mapping (mr-manuel's dbus-mqtt-battery). Time runs faster than real time (a minute per
 * step by default) so SoC visibly moves; everything else follows from a small physical model:
 *
 * - cell voltage = open-circuit voltage at the cell's own SoC + current × resistance; cells differ
 *   a little in capacity, so they spread apart near empty and full (where the LFP curve is steep),
 *   and the BMS balances the high ones at the top;
 * - charging tapers when the pack reaches the charge voltage limit (absorption);
 * - temperature follows I² heating with a lag; the charge/discharge limits derate near full/empty;
 * - alarms come from the state (imbalance at the top, a load surge over the discharge limit, low
 *   SoC on a deep discharge), so they appear now and then and clear again.
 *
 * Deterministic for a given seed, so tests can check ranges over many steps.
 */

export interface SimulatorOptions {
  /** Cells in series; default 16 (the default mapping has paths for up to 24). */
  cells?: number;
  /** Nominal capacity in Ah; default 280. */
  capacityAh?: number;
  /** Simulated seconds per real second; default 60. */
  speed?: number;
  /** Starting state of charge in %; default 55. */
  soc?: number;
  /** PRNG seed; default 1. */
  seed?: number;
}

/** The payload, as documented for the default mapping (a subset is enough for vbat). */
export interface BmsPayload {
  Dc: { Power: number; Voltage: number; Current: number; Temperature: number };
  InstalledCapacity: number;
  ConsumedAmphours: number;
  Capacity: number;
  Soc: number;
  Soh: number;
  Balancing: number;
  SystemSwitch: number;
  Alarms: Record<AlarmName, number>;
  Info: {
    ChargeRequest: number;
    MaxChargeVoltage: number;
    MaxChargeCurrent: number;
    MaxDischargeCurrent: number;
    MaxChargeCellVoltage: number;
  };
  History: {
    ChargeCycles: number;
    MinimumVoltage: number;
    MaximumVoltage: number;
    TotalAhDrawn: number;
    ChargedEnergy: number;
    DischargedEnergy: number;
    MinimumCellVoltage: number;
    MaximumCellVoltage: number;
    TimeSinceLastFullCharge: number;
  };
  System: {
    MinCellTemperature: number;
    MaxCellTemperature: number;
    MinTemperatureCellId: string;
    MaxTemperatureCellId: string;
    MOSTemperature: number;
    NrOfCellsPerBattery: number;
    NrOfModulesOnline: number;
    NrOfModulesOffline: number;
    NrOfModulesBlockingCharge: number;
    NrOfModulesBlockingDischarge: number;
    Temperature1: number;
    Temperature1Name: string;
    Temperature2: number;
    Temperature2Name: string;
    Temperature3: number;
    Temperature3Name: string;
  };
  Voltages: Record<string, number>;
  Balances: Record<string, number>;
  Io: { AllowToCharge: number; AllowToDischarge: number; AllowToBalance: number; AllowToHeat: number; ExternalRelay: number };
  Heating: number;
}

export const ALARM_NAMES = [
  'LowVoltage',
  'HighVoltage',
  'LowSoc',
  'HighChargeCurrent',
  'HighDischargeCurrent',
  'HighCurrent',
  'CellImbalance',
  'HighChargeTemperature',
  'LowChargeTemperature',
  'LowCellVoltage',
  'LowTemperature',
  'HighTemperature',
  'FuseBlown',
] as const;
export type AlarmName = (typeof ALARM_NAMES)[number];

/** LiFePO4 open-circuit voltage per cell against SoC (%), at rest. */
const OCV: readonly [number, number][] = [
  [0, 2.8],
  [3, 3.0],
  [8, 3.18],
  [15, 3.23],
  [30, 3.265],
  [50, 3.29],
  [70, 3.31],
  [90, 3.33],
  [96, 3.36],
  [99, 3.42],
  [100, 3.48],
];

/** Charge voltage per cell (CVL / cells); 3.45 V × 16 = 55.2 V. */
const CELL_CHARGE_VOLTAGE = 3.45;
/** Ohmic + polarisation resistance per cell, Ω. */
const CELL_RESISTANCE = 0.0009;
const MAX_CHARGE_CURRENT = 100;
const MAX_DISCHARGE_CURRENT = 150;
const AMBIENT = 21;

type Phase = 'charge' | 'full' | 'discharge';

export class BmsSimulator {
  readonly cells: number;
  readonly capacityAh: number;
  readonly speed: number;
  private soc: number;
  private current = 0;
  private target = 0;
  private phase: Phase = 'charge';
  /** Simulated seconds left in the current phase's "weather" (a target change). */
  private untilChange = 0;
  /** Simulated seconds left in a load surge. */
  private surge = 0;
  /** Discharge ends at this SoC (varies per cycle; a deep one now and then). */
  private floorSoc = 25;
  private fullFor = 0;
  private temperature = AMBIENT + 1;
  /** The limits the charger and loads obeyed in the last step. */
  private applied = { ccl: MAX_CHARGE_CURRENT, dcl: MAX_DISCHARGE_CURRENT };
  private readonly cellCapacity: number[];
  private readonly cellOffset: number[];
  private readonly cellSoc: number[];
  private balancing: boolean[];
  private readonly rng: () => number;
  private readonly history = {
    cycles: 37,
    minV: Infinity,
    maxV: -Infinity,
    minCell: Infinity,
    maxCell: -Infinity,
    ahDrawn: 10_234.5,
    chargedKwh: 4_102.35,
    dischargedKwh: 3_957.18,
    sinceFull: 3 * 86_400,
    dischargedSinceCycle: 0,
  };
  private lastPayload?: BmsPayload;

  constructor(opts: SimulatorOptions = {}) {
    this.cells = Math.max(1, Math.min(24, Math.round(opts.cells ?? 16)));
    this.capacityAh = opts.capacityAh ?? 280;
    this.speed = opts.speed ?? 60;
    this.soc = clamp(opts.soc ?? 55, 0, 100);
    this.rng = mulberry32(opts.seed ?? 1);
    // Cells differ by up to ±1.5 % in capacity and ±2 mV in resistance/connection offset.
    this.cellCapacity = Array.from({ length: this.cells }, () => 1 + (this.rng() - 0.5) * 0.03);
    this.cellOffset = Array.from({ length: this.cells }, () => (this.rng() - 0.5) * 0.004);
    this.cellSoc = Array.from({ length: this.cells }, () => this.soc);
    this.balancing = new Array<boolean>(this.cells).fill(false);
    this.pickTarget();
  }

  /** Advance by `realSeconds` (× speed simulated seconds, in steps of at most a minute) and return the payload. */
  step(realSeconds = 1): BmsPayload {
    let left = Math.max(0, realSeconds * this.speed);
    // Bounded: at most 10 000 sub-steps per call, whatever the arguments.
    for (let i = 0; left > 0 && i < 10_000; i++) {
      const dt = Math.min(60, left);
      this.advance(dt);
      left -= dt;
    }
    return (this.lastPayload = this.payload());
  }

  /** The payload for the current state (without advancing). */
  payload(): BmsPayload {
    const limits = this.limits();
    const cellV = this.cellVoltages();
    const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
    const voltage = round(
      cellV.reduce((a, b) => a + b, 0),
      2,
    );
    const current = round(this.current, 2);
    const power = round(voltage * current, 1);
    const minCell = Math.min(...cellV);
    const maxCell = Math.max(...cellV);
    this.history.minV = Math.min(this.history.minV, voltage);
    this.history.maxV = Math.max(this.history.maxV, voltage);
    this.history.minCell = Math.min(this.history.minCell, minCell);
    this.history.maxCell = Math.max(this.history.maxCell, maxCell);
    const capacity = round((this.capacityAh * this.soc) / 100, 1);
    const t = round(this.temperature, 1);
    const mos = round(this.temperature + 2 + Math.abs(this.current) * 0.03, 1);
    const voltages: Record<string, number> = {};
    const balances: Record<string, number> = {};
    cellV.forEach((v, i) => {
      voltages[`Cell${i + 1}`] = round(v, 3);
      balances[`Cell${i + 1}`] = this.balancing[i] ? 1 : 0;
    });
    const alarms = this.alarms(current, minCell, maxCell, limits);
    return {
      Dc: { Power: power, Voltage: voltage, Current: current, Temperature: t },
      InstalledCapacity: this.capacityAh,
      ConsumedAmphours: round(this.capacityAh - capacity, 1),
      Capacity: capacity,
      Soc: round(this.soc, 1),
      Soh: 98,
      Balancing: this.balancing.some(Boolean) ? 1 : 0,
      SystemSwitch: 1,
      Alarms: alarms,
      Info: {
        ChargeRequest: 0,
        MaxChargeVoltage: round(CELL_CHARGE_VOLTAGE * this.cells, 2),
        MaxChargeCurrent: round(limits.ccl, 1),
        MaxDischargeCurrent: round(limits.dcl, 1),
        MaxChargeCellVoltage: CELL_CHARGE_VOLTAGE,
      },
      History: {
        ChargeCycles: this.history.cycles,
        MinimumVoltage: this.history.minV,
        MaximumVoltage: this.history.maxV,
        TotalAhDrawn: round(this.history.ahDrawn, 1),
        ChargedEnergy: round(this.history.chargedKwh, 2),
        DischargedEnergy: round(this.history.dischargedKwh, 2),
        MinimumCellVoltage: round(this.history.minCell, 3),
        MaximumCellVoltage: round(this.history.maxCell, 3),
        TimeSinceLastFullCharge: Math.round(this.history.sinceFull),
      },
      System: {
        MinCellTemperature: round(t - 0.4, 1),
        MaxCellTemperature: round(t + 0.6, 1),
        MinTemperatureCellId: 'C1',
        MaxTemperatureCellId: `C${Math.ceil(this.cells / 2)}`,
        MOSTemperature: mos,
        NrOfCellsPerBattery: this.cells,
        NrOfModulesOnline: 1,
        NrOfModulesOffline: 0,
        NrOfModulesBlockingCharge: 0,
        NrOfModulesBlockingDischarge: 0,
        Temperature1: round(t - 0.4, 1),
        Temperature1Name: 'Cells 1-8',
        Temperature2: round(t + 0.6, 1),
        Temperature2Name: 'Cells 9-16',
        Temperature3: mos,
        Temperature3Name: 'MOSFET',
      },
      Voltages: voltages,
      Balances: balances,
      Io: {
        AllowToCharge: limits.ccl > 0 ? 1 : 0,
        AllowToDischarge: limits.dcl > 0 ? 1 : 0,
        AllowToBalance: 1,
        AllowToHeat: 0,
        ExternalRelay: 0,
      },
      Heating: 0,
    };
  }

  /** The last payload `step` returned (or the current one). */
  get last(): BmsPayload {
    return this.lastPayload ?? this.payload();
  }

  private advance(dt: number): void {
    this.untilChange -= dt;
    if (this.surge > 0) this.surge -= dt;
    this.nextPhase();
    if (this.untilChange <= 0) this.pickTarget();

    // The current follows its target with a lag of a couple of minutes, plus a little noise.
    const limits = this.limits();
    let target = this.surge > 0 ? -MAX_DISCHARGE_CURRENT * 0.95 : this.target;
    if (target > 0) target = Math.min(target, limits.ccl, this.absorptionCurrent());
    const k = this.surge > 0 ? 1 : Math.min(1, dt / 120);
    this.current += (target - this.current) * k + (this.rng() - 0.5) * 0.4;
    // The charger obeys CCL (DVCC) and CVL at once; only the noise gets through.
    if (this.current > 0) this.current = Math.max(0, Math.min(this.current, limits.ccl + 0.3, this.absorptionCurrent() + 0.3));

    // Coulomb counting, for the pack and for each cell (cells differ in capacity).
    const ah = (this.current * dt) / 3600;
    this.soc = clamp(this.soc + (ah / this.capacityAh) * 100, 0, 100);
    for (let i = 0; i < this.cells; i++) {
      const drain = this.balancing[i] ? (0.06 * dt) / 3600 : 0; // 60 mA bleed balancer
      this.cellSoc[i] = clamp(this.cellSoc[i]! + ((ah - drain) / (this.capacityAh * this.cellCapacity[i]!)) * 100, 0, 100);
    }
    // The pack's SoC is what the BMS counts; keep the cells centred on it.
    const mean = this.cellSoc.reduce((a, b) => a + b, 0) / this.cells;
    for (let i = 0; i < this.cells; i++) this.cellSoc[i] = clamp(this.cellSoc[i]! + this.soc - mean, 0, 100);
    // The BMS derates as the cells fill; the charger follows the new CCL within the step (DVCC).
    this.applied = this.limits();
    if (this.current > this.applied.ccl + 0.3) this.current = this.applied.ccl + 0.3;

    const cellV = this.cellVoltages();
    const maxCell = Math.max(...cellV);
    const minCell = Math.min(...cellV);
    // Balance the high cells near the top of charge.
    this.balancing = cellV.map((v) => maxCell > 3.4 && maxCell - minCell > 0.012 && v > minCell + 0.008);

    // Temperature: I² heating towards an equilibrium, time constant 30 min.
    const equilibrium = AMBIENT + 0.0016 * this.current * this.current;
    this.temperature += (equilibrium - this.temperature) * Math.min(1, dt / 1800);

    const h = this.history;
    if (this.current < 0) {
      h.ahDrawn += -ah;
      h.dischargedSinceCycle += -ah;
      h.dischargedKwh += (-ah * 51.2) / 1000;
      if (h.dischargedSinceCycle >= this.capacityAh) {
        h.cycles++;
        h.dischargedSinceCycle -= this.capacityAh;
      }
    } else {
      h.chargedKwh += (ah * 53) / 1000;
    }
    h.sinceFull = this.soc >= 99.5 ? 0 : h.sinceFull + dt;
  }

  /** Charge until full, hold there a while, discharge to this cycle's floor; clouds and surges on the way. */
  private nextPhase(): void {
    // Absorption ends at the tail current (or full by the BMS's count).
    if (this.phase === 'charge' && (this.soc >= 99.5 || (this.soc > 95 && this.absorptionCurrent() < 4))) {
      this.phase = 'full';
      this.fullFor = 20 * 60 + this.rng() * 20 * 60;
      this.pickTarget();
    } else if (this.phase === 'full') {
      this.fullFor -= Math.min(this.fullFor, 60);
      if (this.fullFor <= 0) {
        this.phase = 'discharge';
        // Usually stop at 20-35 %, now and then a deep discharge that trips the low-SoC warning.
        this.floorSoc = this.rng() < 0.25 ? 8 + this.rng() * 4 : 20 + this.rng() * 15;
        this.pickTarget();
      }
    } else if (this.phase === 'discharge' && this.soc <= this.floorSoc) {
      this.phase = 'charge';
      this.pickTarget();
    }
    // A load surge (a kettle, a pump starting) now and then while discharging: ~ every 3 hours.
    if (this.phase === 'discharge' && this.surge <= 0 && this.rng() < 1 / 180) this.surge = 40 + this.rng() * 80;
  }

  private pickTarget(): void {
    const r = this.rng();
    if (this.phase === 'charge')
      this.target = 30 + r * 70; // sun, clouds
    else if (this.phase === 'full')
      this.target = 0.5 + r * 2; // float
    else this.target = -(8 + r * 50); // house load
    this.untilChange = 5 * 60 + this.rng() * 25 * 60;
  }

  /**
   * The current the charger can push before the pack reaches the charge voltage limit (CVL), or
   * the highest cell reaches its cell limit plus a little (the BMS then derates CCL too).
   */
  private absorptionCurrent(): number {
    let ocvSum = 0;
    let cellAllowed = Infinity;
    for (let i = 0; i < this.cells; i++) {
      const v = ocv(this.cellSoc[i]!) + this.cellOffset[i]!;
      ocvSum += v;
      cellAllowed = Math.min(cellAllowed, (CELL_CHARGE_VOLTAGE + 0.05 - v) / CELL_RESISTANCE);
    }
    const packAllowed = (CELL_CHARGE_VOLTAGE * this.cells - ocvSum) / (CELL_RESISTANCE * this.cells);
    return Math.max(0, Math.min(packAllowed, cellAllowed));
  }

  private cellVoltages(): number[] {
    return this.cellSoc.map((s, i) => ocv(s) + this.current * CELL_RESISTANCE + this.cellOffset[i]! + (this.rng() - 0.5) * 0.002);
  }

  private limits(): { ccl: number; dcl: number } {
    const maxSoc = Math.max(...this.cellSoc);
    const minSoc = Math.min(...this.cellSoc);
    // Derate charging above 95 % and discharging below 12 % (of the most/least charged cell).
    const ccl = maxSoc <= 95 ? MAX_CHARGE_CURRENT : Math.max(5, MAX_CHARGE_CURRENT * (1 - (maxSoc - 95) / 5.5));
    const dcl = minSoc >= 12 ? MAX_DISCHARGE_CURRENT : Math.max(0, (MAX_DISCHARGE_CURRENT * (minSoc - 2)) / 10);
    return { ccl, dcl };
  }

  private alarms(current: number, minCell: number, maxCell: number, limits: { ccl: number; dcl: number }): Record<AlarmName, number> {
    const level = (warn: boolean, alarm = false) => (alarm ? 2 : warn ? 1 : 0);
    const diff = maxCell - minCell;
    const a = Object.fromEntries(ALARM_NAMES.map((n) => [n, 0])) as Record<AlarmName, number>;
    a.LowSoc = level(this.soc < 15, this.soc < 5);
    a.CellImbalance = level(diff > 0.05, diff > 0.15);
    a.HighVoltage = level(maxCell > 3.6, maxCell > 3.65);
    a.LowVoltage = level(minCell < 3.0, minCell < 2.8);
    a.LowCellVoltage = level(minCell < 3.0, minCell < 2.8);
    // Against the limits in force when the current was drawn (the published ones may have moved on).
    const ccl = Math.max(limits.ccl, this.applied.ccl);
    const dcl = Math.max(limits.dcl, this.applied.dcl);
    a.HighDischargeCurrent = level(-current > dcl * 0.9, -current > dcl * 1.1);
    a.HighChargeCurrent = level(current > ccl * 1.1 + 1);
    a.HighTemperature = level(this.temperature > 45, this.temperature > 55);
    return a;
  }
}

/** Open-circuit voltage of a LiFePO4 cell at `soc` %, interpolated in the table. */
export function ocv(soc: number): number {
  const s = clamp(soc, 0, 100);
  for (let i = 1; i < OCV.length; i++) {
    const [s1, v1] = OCV[i]!;
    if (s <= s1) {
      const [s0, v0] = OCV[i - 1]!;
      return v0 + ((v1 - v0) * (s - s0)) / (s1 - s0);
    }
  }
  return OCV[OCV.length - 1]![1];
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** A small seeded PRNG (mulberry32): deterministic demo runs and tests. */
function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
