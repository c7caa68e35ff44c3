/**
 * The floor of mapping evaluation: hand-written JavaScript producing the same values and texts
 * as the three shipped mappings for the benchmark's inputs — what the fastest possible
 * hard-coded driver would do (direct property reads, `toFixed`, change detection against the
 * last state, no expression engine). It trusts its input: no required-input check, no warnings,
 * Python's tie rounding not reproduced (toFixed differs from Python only on exact binary ties,
 * which the benchmark inputs avoid). mapping.ts checks that it agrees with vbat before timing.
 */

export type Value = number | string | null;
// Documents are whatever JSON arrived: read them the way hand-written JavaScript would.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the floor is untyped on purpose
type Doc = any;
type Fmt = (n: number) => string;

const INVALID = '---';
const fixed =
  (digits: number, suffix: string): Fmt =>
  (n) =>
    n.toFixed(digits) + suffix;
const trunc =
  (suffix: string): Fmt =>
  (n) =>
    String(Math.trunc(n)) + suffix;
const str: Fmt = (n) => String(n);

const W = trunc('W');
const V2 = fixed(2, 'V');
const V3 = fixed(3, 'V');
const A1 = fixed(1, 'A');
const C1 = fixed(1, '°C');
const AH1 = fixed(1, 'Ah');
const PCT = trunc('%');
const I = trunc('');
const KWH2 = fixed(2, 'kWh');
const PCT2 = fixed(2, '%');

/** The output: one value and text per path, kept as the state; `changed` lists this run's changes. */
export class Out {
  readonly names: string[] = [];
  readonly values: Value[] = [];
  readonly texts: string[] = [];
  changed: number[] = [];
  private at = 0;

  begin(): void {
    this.at = 0;
    this.changed = [];
  }

  private put(path: string, v: Value, fmt: ((n: number) => string) | undefined): void {
    const i = this.at++;
    if (this.names.length === i) this.names.push(path);
    if (v === this.values[i]) return;
    this.values[i] = v;
    this.texts[i] = v === null ? INVALID : typeof v === 'string' ? v : fmt!(v);
    this.changed.push(i);
  }

  /** A double path; returns its value for paths derived from it. */
  d(path: string, x: unknown, fmt: Fmt, min = -Infinity, max = Infinity): number | null {
    const v = typeof x === 'number' && Number.isFinite(x) && x >= min && x <= max ? (x === 0 ? 0 : x) : null;
    this.put(path, v, fmt);
    return v;
  }

  /** An int32 path (fractions round, as vbat's coercion does). */
  i(path: string, x: unknown, fmt: Fmt = I): number | null {
    let v: number | null = null;
    if (typeof x === 'number' && Number.isFinite(x)) {
      v = Math.round(x);
      if (v < -0x80000000 || v > 0x7fffffff) v = null;
      else if (v === 0) v = 0;
    }
    this.put(path, v, fmt);
    return v;
  }

  s(path: string, x: unknown): void {
    this.put(path, typeof x === 'string' ? x : typeof x === 'number' ? String(x) : null, undefined);
  }
}

export interface FloorMapping {
  readonly out: Out;
  run(doc: Doc): Out;
}

const CELLS_1_24 = Array.from({ length: 24 }, (_, i) => i + 1);
const CELL_KEYS = CELLS_1_24.map((n) => `Cell${n}`);
const VOLTAGE_PATHS = CELLS_1_24.map((n) => `/Voltages/Cell${n}`);
const BALANCE_PATHS = CELLS_1_24.map((n) => `/Balances/Cell${n}`);
const TEMP_KEYS = [1, 2, 3, 4].map((n) => `Temperature${n}`);
const TEMP_NAME_KEYS = TEMP_KEYS.map((k) => `${k}Name`);
const TEMP_PATHS = TEMP_KEYS.map((k) => `/System/${k}`);
const TEMP_NAME_PATHS = TEMP_NAME_KEYS.map((k) => `/System/${k}`);
const ALARMS = [
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
];
const ALARM_PATHS = ALARMS.map((a) => `/Alarms/${a}`);
const TTS = Array.from({ length: 21 }, (_, i) => String(i * 5));
const TTS_PATHS = TTS.map((n) => `/TimeToSoC/${n}`);

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const round2 = (x: number): number => Math.round(x * 100) / 100;

/** mappings/default.yaml: the dbus-mqtt-battery JSON. */
export function defaultFloor(vars = { ttgEnabled: true, ttgSoc: 10 }): FloorMapping {
  const out = new Out();
  return {
    out,
    run(doc: Doc): Out {
      out.begin();
      const dc = doc.Dc;
      const dc0 = dc?.['0'];
      const power = out.d('/Dc/0/Power', dc?.Power ?? dc0?.Power, W);
      const voltage = out.d('/Dc/0/Voltage', dc?.Voltage ?? dc0?.Voltage, V2);
      let cur = dc?.Current ?? dc0?.Current;
      if (cur === undefined && power !== null && voltage !== null) cur = voltage === 0 ? 0 : round3(power / voltage);
      const current = out.d('/Dc/0/Current', cur, A1);
      out.d('/Dc/0/Temperature', dc?.Temperature ?? dc0?.Temperature, C1);
      const installed = out.d('/InstalledCapacity', doc.InstalledCapacity, AH1);
      // /Soc comes before the capacities in evaluation order (they may derive from it).
      const socRaw = doc.Soc;
      const soc = typeof socRaw === 'number' && Number.isFinite(socRaw) ? socRaw : null;
      let consumed = doc.ConsumedAmphours;
      if (consumed === undefined && installed !== null) {
        if (typeof doc.Capacity === 'number') consumed = installed - doc.Capacity;
        else if (soc !== null) consumed = round2((installed * (100 - soc)) / 100);
      }
      out.d('/ConsumedAmphours', consumed, AH1);
      let capacity = doc.Capacity;
      if (capacity === undefined && installed !== null) {
        if (typeof doc.ConsumedAmphours === 'number') capacity = installed - doc.ConsumedAmphours;
        else if (soc !== null) capacity = round2((installed * soc) / 100);
      }
      const cap = out.d('/Capacity', capacity, AH1);
      out.d('/Soc', soc, PCT);
      let ttg = doc.TimeToGo;
      if (ttg === undefined && vars.ttgEnabled && current !== null && cap !== null && installed !== null) {
        if (current > 0) ttg = Math.abs(Math.round(((installed - cap) / current) * 3600));
        else if (current < 0) ttg = Math.abs(Math.round(((cap - (installed * vars.ttgSoc) / 100) / current) * 3600 * -1));
        else ttg = 60 * 60 * 24 * 30;
      }
      out.d('/TimeToGo', ttg, I);
      out.i('/Balancing', doc.Balancing);
      out.i('/SystemSwitch', doc.SystemSwitch);

      const al = doc.Alarms;
      for (let k = 0; k < ALARMS.length; k++) out.i(ALARM_PATHS[k]!, al?.[ALARMS[k]!] ?? 0);

      const info = doc.Info;
      out.i('/Info/ChargeRequest', info?.ChargeRequest);
      out.d('/Info/MaxChargeVoltage', info?.MaxChargeVoltage, V2);
      out.d('/Info/MaxChargeCurrent', info?.MaxChargeCurrent, A1);
      out.d('/Info/MaxDischargeCurrent', info?.MaxDischargeCurrent, A1);
      out.d('/Info/MaxChargeCellVoltage', info?.MaxChargeCellVoltage, V3);
      out.d('/Info/HeatingCurrent', info?.HeatingCurrent, A1);
      out.d('/Info/HeatingPower', info?.HeatingPower, W);
      out.d('/Info/HeatingTemperatureStart', info?.HeatingTemperatureStart, C1);
      out.d('/Info/HeatingTemperatureStop', info?.HeatingTemperatureStop, C1);

      const h = doc.History;
      out.i('/History/ChargeCycles', h?.ChargeCycles);
      out.d('/History/MinimumVoltage', h?.MinimumVoltage, V2);
      out.d('/History/MaximumVoltage', h?.MaximumVoltage, V2);
      out.d('/History/TotalAhDrawn', h?.TotalAhDrawn, AH1);

      // Cell statistics, computed only when a value needs them (ties: first cell).
      const cellsObj = doc.Voltages;
      let stats: { min: number; max: number; minId: string; maxId: string; sum: number; count: number } | undefined;
      const cellStats = () => {
        if (stats || typeof cellsObj !== 'object' || cellsObj === null) return stats;
        for (const id in cellsObj) {
          const v = cellsObj[id];
          if (typeof v !== 'number' || id === 'Sum' || id === 'Diff') continue;
          if (!stats) stats = { min: v, max: v, minId: id, maxId: id, sum: 0, count: 0 };
          stats.sum += v;
          stats.count++;
          if (v < stats.min) {
            stats.min = v;
            stats.minId = id;
          }
          if (v > stats.max) {
            stats.max = v;
            stats.maxId = id;
          }
        }
        return stats;
      };
      const sys = doc.System;
      out.s('/System/MinVoltageCellId', sys?.MinVoltageCellId ?? cellStats()?.minId);
      const minCell = out.d('/System/MinCellVoltage', sys?.MinCellVoltage ?? cellStats()?.min, V3);
      out.s('/System/MaxVoltageCellId', sys?.MaxVoltageCellId ?? cellStats()?.maxId);
      const maxCell = out.d('/System/MaxCellVoltage', sys?.MaxCellVoltage ?? cellStats()?.max, V3);
      out.s('/System/MinTemperatureCellId', sys?.MinTemperatureCellId);
      out.d('/System/MinCellTemperature', sys?.MinCellTemperature, C1);
      out.s('/System/MaxTemperatureCellId', sys?.MaxTemperatureCellId);
      out.d('/System/MaxCellTemperature', sys?.MaxCellTemperature, C1);
      out.d('/System/MOSTemperature', sys?.MOSTemperature, C1);
      out.i('/System/NrOfCellsPerBattery', sys?.NrOfCellsPerBattery > 0 ? sys.NrOfCellsPerBattery : (cellStats()?.count ?? 0));
      out.i('/System/NrOfModulesOnline', sys?.NrOfModulesOnline ?? 1);
      out.i('/System/NrOfModulesOffline', sys?.NrOfModulesOffline ?? 0);
      out.i('/System/NrOfModulesBlockingCharge', sys?.NrOfModulesBlockingCharge ?? 0);
      out.i('/System/NrOfModulesBlockingDischarge', sys?.NrOfModulesBlockingDischarge ?? 0);

      out.d('/Voltages/Sum', cellsObj?.Sum ?? cellStats()?.sum, V2);
      let diff = cellsObj?.Diff;
      if (diff === undefined && cellsObj && maxCell !== null && minCell !== null) diff = maxCell - minCell;
      out.d('/Voltages/Diff', diff, V3);
      for (let k = 0; k < 24; k++) out.d(VOLTAGE_PATHS[k]!, cellsObj?.[CELL_KEYS[k]!], V3);
      const bal = doc.Balances;
      for (let k = 0; k < 24; k++) out.i(BALANCE_PATHS[k]!, bal?.[CELL_KEYS[k]!]);

      const io = doc.Io;
      out.i('/Io/AllowToCharge', io?.AllowToCharge);
      out.i('/Io/AllowToDischarge', io?.AllowToDischarge);
      out.i('/Io/AllowToBalance', io?.AllowToBalance);
      out.i('/Io/AllowToHeat', io?.AllowToHeat);
      out.i('/Io/ExternalRelay', io?.ExternalRelay);
      out.i('/Heating', doc.Heating);
      const tts = doc.TimeToSoC;
      for (let k = 0; k < TTS.length; k++) out.i(TTS_PATHS[k]!, tts?.[TTS[k]!], str);

      out.i('/Alarms/BmsCable', al?.BmsCable);
      out.i('/Alarms/HighCellVoltage', al?.HighCellVoltage);
      out.i('/Alarms/HighInternalTemperature', al?.HighInternalTemperature);
      out.i('/Alarms/InternalFailure', al?.InternalFailure);
      out.i('/Alarms/StateOfHealth', al?.StateOfHealth);
      out.s('/ConnectionInformation', doc.ConnectionInformation);
      out.d('/CurrentAvg', doc.CurrentAvg, A1);
      out.d('/Dc/0/MidVoltage', dc?.MidVoltage ?? dc0?.MidVoltage, V2);
      out.d('/Dc/0/MidVoltageDeviation', dc?.MidVoltageDeviation ?? dc0?.MidVoltageDeviation, PCT2);
      out.d('/History/AverageDischarge', h?.AverageDischarge, AH1);
      out.d('/History/ChargedEnergy', h?.ChargedEnergy, KWH2);
      out.d('/History/DeepestDischarge', h?.DeepestDischarge, AH1);
      out.d('/History/DischargedEnergy', h?.DischargedEnergy, KWH2);
      out.i('/History/FullDischarges', h?.FullDischarges);
      out.i('/History/HighVoltageAlarms', h?.HighVoltageAlarms);
      out.d('/History/LastDischarge', h?.LastDischarge, AH1);
      out.i('/History/LowVoltageAlarms', h?.LowVoltageAlarms);
      out.d('/History/MaximumCellVoltage', h?.MaximumCellVoltage, V3);
      out.d('/History/MaximumTemperature', h?.MaximumTemperature, C1);
      out.d('/History/MinimumCellVoltage', h?.MinimumCellVoltage, V3);
      out.d('/History/MinimumTemperature', h?.MinimumTemperature, C1);
      out.i('/History/TimeSinceLastFullCharge', h?.TimeSinceLastFullCharge);
      out.d('/Info/BatteryLowVoltage', info?.BatteryLowVoltage, V2);
      out.s('/Info/ChargeLimitation', info?.ChargeLimitation);
      out.s('/Info/ChargeMode', info?.ChargeMode);
      out.s('/Info/DischargeLimitation', info?.DischargeLimitation);
      out.i('/Io/ForceChargingOff', io?.ForceChargingOff);
      out.i('/Io/ForceDischargingOff', io?.ForceDischargingOff);
      out.i('/Io/TurnBalancingOff', io?.TurnBalancingOff);
      out.i('/Settings/HasTemperature', doc.Settings?.HasTemperature);
      out.d('/SocBms', doc.SocBms, PCT);
      out.d('/Soh', doc.Soh, PCT);
      out.i('/State', doc.State);
      for (let k = 0; k < 4; k++) out.d(TEMP_PATHS[k]!, sys?.[TEMP_KEYS[k]!], C1);
      for (let k = 0; k < 4; k++) out.s(TEMP_NAME_PATHS[k]!, sys?.[TEMP_NAME_KEYS[k]!]);
      return out;
    },
  };
}

const onOff = (x: unknown): number | undefined => {
  if (typeof x === 'boolean') return x ? 1 : 0;
  if (typeof x === 'number') return x === 0 ? 0 : 1;
  if (typeof x !== 'string') return undefined;
  const s = x.trim().toLowerCase();
  return s === 'on' || s === 'true' || s === '1' || s === 'yes'
    ? 1
    : s === 'off' || s === 'false' || s === '0' || s === 'no'
      ? 0
      : undefined;
};
const bit = (mask: unknown, n: number): number | undefined =>
  typeof mask === 'number' && Number.isInteger(mask) ? Math.floor(mask / 2 ** n) % 2 : undefined;
const ESP_CELL_KEYS = CELLS_1_24.map((n) => `cell_voltage_${n}`);

/** mappings/esphome-jk-bms.yaml: one value per topic, as a tree. */
export function esphomeFloor(vars = { chargeCellVoltage: 3.45, maxChargeCurrent: 100, maxDischargeCurrent: 150 }): FloorMapping {
  const out = new Out();
  return {
    out,
    run(doc: Doc): Out {
      out.begin();
      const s = doc.sensor ?? {};
      const st = (k: string): unknown => s[k]?.state;
      const v = out.d('/Dc/0/Voltage', st('total_voltage'), V2, 0, 1000);
      const i = out.d('/Dc/0/Current', st('current'), A1);
      out.d('/Dc/0/Power', st('power') ?? (v !== null && i !== null ? v * i : undefined), W);
      out.d('/Dc/0/Temperature', st('temperature_sensor_1'), C1);
      out.d('/Soc', st('state_of_charge'), PCT, 0, 100);
      const cap = out.d('/Capacity', st('capacity_remaining'), AH1);
      const inst = out.d('/InstalledCapacity', st('total_battery_capacity_setting') ?? st('actual_battery_capacity'), AH1);
      out.d('/ConsumedAmphours', inst !== null && cap !== null ? inst - cap : undefined, AH1);
      out.i('/History/ChargeCycles', st('charging_cycles'));
      const cells = out.i('/System/NrOfCellsPerBattery', st('battery_strings'));
      out.d('/System/MOSTemperature', st('mosfet_temperature'), C1);
      out.d('/System/Temperature1', st('temperature_sensor_1'), C1);
      out.d('/System/Temperature2', st('temperature_sensor_2'), C1);
      out.d('/System/MinCellVoltage', st('min_cell_voltage'), V3);
      out.d('/System/MaxCellVoltage', st('max_cell_voltage'), V3);
      const minId = st('min_voltage_cell');
      const maxId = st('max_voltage_cell');
      out.s('/System/MinVoltageCellId', 'C' + (minId === undefined ? '' : String(minId)));
      out.s('/System/MaxVoltageCellId', 'C' + (maxId === undefined ? '' : String(maxId)));
      for (let k = 0; k < 24; k++) out.d(VOLTAGE_PATHS[k]!, st(ESP_CELL_KEYS[k]!), V3);
      out.d('/Voltages/Diff', st('delta_cell_voltage'), V3);
      out.i('/Balancing', onOff(doc.binary_sensor?.balancing?.state));
      const allowCharge = out.i('/Io/AllowToCharge', onOff(doc.switch?.charging?.state));
      const allowDischarge = out.i('/Io/AllowToDischarge', onOff(doc.switch?.discharging?.state));
      out.d('/Info/MaxChargeVoltage', cells !== null ? vars.chargeCellVoltage * cells : undefined, V2);
      const occ = st('charging_overcurrent_protection');
      out.d(
        '/Info/MaxChargeCurrent',
        allowCharge === 0 ? 0 : Math.min(vars.maxChargeCurrent, typeof occ === 'number' ? occ : vars.maxChargeCurrent),
        A1,
      );
      const odc = st('discharging_overcurrent_protection');
      out.d(
        '/Info/MaxDischargeCurrent',
        allowDischarge === 0 ? 0 : Math.min(vars.maxDischargeCurrent, typeof odc === 'number' ? odc : vars.maxDischargeCurrent),
        A1,
      );
      const mask = st('errors_bitmask');
      const alarm = (n: number): number | undefined => {
        const b = bit(mask, n);
        return b === undefined ? undefined : b * 2;
      };
      out.i('/Alarms/LowSoc', alarm(0));
      const b1 = bit(mask, 1);
      out.i('/Alarms/HighTemperature', b1 === undefined ? undefined : Math.max(b1, bit(mask, 4)!, bit(mask, 8)!) * 2);
      out.i('/Alarms/HighVoltage', alarm(2));
      out.i('/Alarms/LowVoltage', alarm(3));
      out.i('/Alarms/HighChargeCurrent', alarm(5));
      out.i('/Alarms/HighDischargeCurrent', alarm(6));
      out.i('/Alarms/CellImbalance', alarm(7));
      out.i('/Alarms/LowTemperature', alarm(9));
      out.i('/Alarms/HighCellVoltage', alarm(10));
      out.i('/Alarms/LowCellVoltage', alarm(11));
      const sw = doc.text_sensor?.software_version?.state;
      out.s('/ConnectionInformation', 'ESPHome ' + (sw === undefined ? '' : String(sw)));
      return out;
    },
  };
}

/** serialbattery sends "" for an invalid number (its release v2.0.20250729); null otherwise. */
const n = (x: unknown): unknown => (x === '' ? undefined : x);

/** mappings/serialbattery-jsondata.yaml: dbus-serialbattery's /JsonData (already unwrapped). */
export function serialbatteryFloor(): FloorMapping {
  const out = new Out();
  return {
    out,
    run(doc: Doc): Out {
      out.begin();
      const dc = doc.Dc?.['0'];
      out.d('/Dc/0/Voltage', n(dc?.Voltage), V2);
      out.d('/Dc/0/Current', n(dc?.Current), A1);
      out.d('/Dc/0/Power', n(dc?.Power), W);
      out.d('/Dc/0/Temperature', n(dc?.Temperature), C1);
      out.d('/Dc/0/MidVoltage', n(dc?.MidVoltage), V2);
      out.d('/Dc/0/MidVoltageDeviation', n(dc?.MidVoltageDeviation), PCT2);
      out.d('/Soc', n(doc.Soc), PCT);
      out.d('/Soh', n(doc.Soh), PCT);
      out.d('/Capacity', n(doc.Capacity), AH1);
      out.d('/InstalledCapacity', n(doc.InstalledCapacity), AH1);
      out.d('/ConsumedAmphours', n(doc.ConsumedAmphours), AH1);
      out.d('/TimeToGo', n(doc.TimeToGo), I);
      out.d('/CurrentAvg', n(doc.CurrentAvg), A1);
      out.i('/State', n(doc.State));
      out.i('/ErrorCode', n(doc.ErrorCode));
      out.s('/ConnectionInformation', doc.ConnectionInformation);
      out.i('/Balancing', n(doc.Balancing));
      out.i('/Heating', n(doc.Heating));
      const info = doc.Info;
      out.d('/Info/MaxChargeVoltage', n(info?.MaxChargeVoltage), V2);
      out.d('/Info/MaxChargeCurrent', n(info?.MaxChargeCurrent), A1);
      out.d('/Info/MaxDischargeCurrent', n(info?.MaxDischargeCurrent), A1);
      out.d('/Info/BatteryLowVoltage', n(info?.BatteryLowVoltage), V2);
      out.d('/Info/MaxChargeCellVoltage', n(info?.MaxChargeCellVoltage), V3);
      out.s('/Info/ChargeMode', info?.ChargeMode);
      out.s('/Info/ChargeLimitation', info?.ChargeLimitation);
      out.s('/Info/DischargeLimitation', info?.DischargeLimitation);
      const sys = doc.System;
      out.i('/System/NrOfCellsPerBattery', n(sys?.NrOfCellsPerBattery));
      out.i('/System/NrOfModulesOnline', n(sys?.NrOfModulesOnline));
      out.i('/System/NrOfModulesOffline', n(sys?.NrOfModulesOffline));
      out.i('/System/NrOfModulesBlockingCharge', n(sys?.NrOfModulesBlockingCharge));
      out.i('/System/NrOfModulesBlockingDischarge', n(sys?.NrOfModulesBlockingDischarge));
      out.d('/System/MinCellVoltage', n(sys?.MinCellVoltage), V3);
      out.d('/System/MaxCellVoltage', n(sys?.MaxCellVoltage), V3);
      out.s('/System/MinVoltageCellId', sys?.MinVoltageCellId);
      out.s('/System/MaxVoltageCellId', sys?.MaxVoltageCellId);
      out.d('/System/MinCellTemperature', n(sys?.MinCellTemperature), C1);
      out.d('/System/MaxCellTemperature', n(sys?.MaxCellTemperature), C1);
      out.s('/System/MinTemperatureCellId', sys?.MinTemperatureCellId);
      out.s('/System/MaxTemperatureCellId', sys?.MaxTemperatureCellId);
      out.d('/System/MOSTemperature', n(sys?.MOSTemperature), C1);
      const volts = doc.Voltages;
      out.d('/Voltages/Sum', n(volts?.Sum), V2);
      out.d('/Voltages/Diff', n(volts?.Diff), V3);
      const h = doc.History;
      out.d('/History/DeepestDischarge', n(h?.DeepestDischarge), AH1);
      out.d('/History/LastDischarge', n(h?.LastDischarge), AH1);
      out.d('/History/AverageDischarge', n(h?.AverageDischarge), AH1);
      out.d('/History/TotalAhDrawn', n(h?.TotalAhDrawn), AH1);
      out.i('/History/ChargeCycles', n(h?.ChargeCycles));
      out.i('/History/FullDischarges', n(h?.FullDischarges));
      out.i('/History/AutomaticSyncs', n(h?.AutomaticSyncs));
      out.i('/History/LowVoltageAlarms', n(h?.LowVoltageAlarms));
      out.i('/History/HighVoltageAlarms', n(h?.HighVoltageAlarms));
      out.d('/History/MinimumVoltage', n(h?.MinimumVoltage), V2);
      out.d('/History/MaximumVoltage', n(h?.MaximumVoltage), V2);
      out.d('/History/MinimumCellVoltage', n(h?.MinimumCellVoltage), V3);
      out.d('/History/MaximumCellVoltage', n(h?.MaximumCellVoltage), V3);
      out.d('/History/MinimumTemperature', n(h?.MinimumTemperature), C1);
      out.d('/History/MaximumTemperature', n(h?.MaximumTemperature), C1);
      out.i('/History/TimeSinceLastFullCharge', n(h?.TimeSinceLastFullCharge));
      out.d('/History/DischargedEnergy', n(h?.DischargedEnergy), KWH2);
      out.d('/History/ChargedEnergy', n(h?.ChargedEnergy), KWH2);
      const io = doc.Io;
      out.i('/Io/AllowToCharge', n(io?.AllowToCharge));
      out.i('/Io/AllowToDischarge', n(io?.AllowToDischarge));
      out.i('/Io/AllowToBalance', n(io?.AllowToBalance));
      out.i('/Io/AllowToHeat', n(io?.AllowToHeat));
      for (let k = 0; k < 4; k++) out.d(TEMP_PATHS[k]!, n(sys?.[TEMP_KEYS[k]!]), C1);
      for (let k = 0; k < 4; k++) out.s(TEMP_NAME_PATHS[k]!, sys?.[TEMP_NAME_KEYS[k]!]);
      for (let k = 0; k < 24; k++) out.d(VOLTAGE_PATHS[k]!, n(volts?.[CELL_KEYS[k]!]), V3);
      const bal = doc.Balances;
      for (let k = 0; k < 24; k++) out.i(BALANCE_PATHS[k]!, n(bal?.[CELL_KEYS[k]!]));
      const al = doc.Alarms;
      for (let k = 0; k < SB_ALARMS.length; k++) out.i(SB_ALARM_PATHS[k]!, n(al?.[SB_ALARMS[k]!]));
      return out;
    },
  };
}

const SB_ALARMS = [
  'LowVoltage',
  'HighVoltage',
  'LowCellVoltage',
  'HighCellVoltage',
  'LowSoc',
  'StateOfHealth',
  'HighChargeCurrent',
  'HighDischargeCurrent',
  'CellImbalance',
  'InternalFailure',
  'HighChargeTemperature',
  'LowChargeTemperature',
  'HighTemperature',
  'LowTemperature',
  'BmsCable',
  'HighInternalTemperature',
  'FuseBlown',
];
const SB_ALARM_PATHS = SB_ALARMS.map((a) => `/Alarms/${a}`);
