COMMENT
The Traub-Miles sodium, potassium and leak currents of Brian2's COBAHH
example (examples/COBAHH.py, after Traub and Miles 1991 as used by Brette et
al. 2007), written the way NEURON's own hh.mod is written: the rate functions
of v in a PROCEDURE whose TABLE NEURON fills once and then interpolates
linearly (usetable_traub = 0 computes them on every call), and the gates
integrated with cnexp.

Units are NEURON's: mV, ms, S/cm2, mA/cm2. With an area of 20000 um2 and
cm = 1 uF/cm2 the parameters equal COBAHH's (gl = 5e-5 S/cm2, gnabar =
0.1 S/cm2, gkbar = 0.03 S/cm2, el = -60 mV, vt = -63 mV); ena = 50 mV and
ek = -90 mV are set on the section.

The table spans -100 to 100 mV in 2000 intervals (0.1 mV, the grid of
lut4brian's default tables; hh.mod uses 1 mV). The gates start at 0, as in
Brian2's COBAHH example (hh.mod starts them at their steady state).
ENDCOMMENT

NEURON {
    SUFFIX traub
    USEION na READ ena WRITE ina
    USEION k READ ek WRITE ik
    NONSPECIFIC_CURRENT il
    RANGE gnabar, gkbar, gl, el
    GLOBAL vt, minf, hinf, ninf, mtau, htau, ntau
    THREADSAFE
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gnabar = 0.1 (S/cm2) <0,1e9>
    gkbar = 0.03 (S/cm2) <0,1e9>
    gl = 5e-5 (S/cm2) <0,1e9>
    el = -60 (mV)
    vt = -63 (mV)
}

STATE {
    m h n
}

ASSIGNED {
    v (mV)
    ena (mV)
    ek (mV)
    ina (mA/cm2)
    ik (mA/cm2)
    il (mA/cm2)
    minf hinf ninf
    mtau (ms) htau (ms) ntau (ms)
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    ina = gnabar*m*m*m*h*(v - ena)
    ik = gkbar*n*n*n*n*(v - ek)
    il = gl*(v - el)
}

INITIAL {
    rates(v)
    m = 0
    h = 0
    n = 0
}

DERIVATIVE states {
    rates(v)
    m' = (minf - m)/mtau
    h' = (hinf - h)/htau
    n' = (ninf - n)/ntau
}

PROCEDURE rates(v (mV)) {
    LOCAL a, b, u
    TABLE minf, mtau, hinf, htau, ninf, ntau DEPEND vt FROM -100 TO 100 WITH 2000
    UNITSOFF
    u = v - vt
    a = 0.32*efun(13 - u, 4)
    b = 0.28*efun(u - 40, 5)
    mtau = 1/(a + b)
    minf = a*mtau
    a = 0.128*exp((17 - u)/18)
    b = 4/(1 + exp((40 - u)/5))
    htau = 1/(a + b)
    hinf = a*htau
    a = 0.032*efun(15 - u, 5)
    b = 0.5*exp((10 - u)/40)
    ntau = 1/(a + b)
    ninf = a*ntau
    UNITSON
}

FUNCTION efun(x, y) {
    : x/(exp(x/y) - 1), which tends to y at x = 0 (a grid point of the table)
    if (fabs(x/y) < 1e-6) {
        efun = y*(1 - x/y/2)
    } else {
        efun = x/(exp(x/y) - 1)
    }
}
