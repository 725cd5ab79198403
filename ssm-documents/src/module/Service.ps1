# Concern: the logon of the FlexNet Beacon Engine service, its restart and the bounded waits for its state.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function Get-BpServiceLogonEntry($Entry) {
    $service = Get-BpService $Entry.service
    if ($null -eq $service) { return $null }
    return $service.startName
}

function Set-BpServiceLogonEntry($Entry, $Value, [bool]$Restore) {
    $password = ''
    if (-not $Restore) { if ($null -ne $script:BpPassword) { $password = $script:BpPassword } }
    else { $password = Get-BpPreviousPassword $Value }
    Set-BpServiceLogon $Entry.service $Value $password
}

# The Win32 error inside an exception chain ("Cannot start service" says nothing; 1069 or 1053 does).
function Get-BpWin32Reason($Exception) {
    $current = $Exception
    while ($null -ne $current) {
        if ($current -is [System.ComponentModel.Win32Exception]) { return ('Win32 error ' + $current.NativeErrorCode + ': ' + $current.Message) }
        $current = $current.InnerException
    }
    return $Exception.Message
}

# Polls until the service reaches $Wanted, at most $TimeoutSeconds (counted in waits, so a clock that only
# moves while waiting still ends it). A service that falls back to Stopped while starting fails at once.
function Wait-BpServiceState([string]$Name, [string]$Wanted, [int]$TimeoutSeconds, [string]$Code) {
    $waited = 0
    while ($true) {
        $service = Get-BpService $Name
        if ($null -eq $service) { throw (New-BpError 'SERVICE_NOT_FOUND' ('the service ' + $Name + ' disappeared')) }
        if ($service.state -eq $Wanted) { return }
        if ($Wanted -eq 'Running' -and $service.state -eq 'Stopped') {
            throw (New-BpError $Code ('the service ' + $Name + ' stopped again while starting' + (Get-BpServiceExitReason $Name)))
        }
        if ($waited -ge $TimeoutSeconds) {
            throw (New-BpError $Code ('the service ' + $Name + ' did not reach ' + $Wanted + ' within ' + $TimeoutSeconds + ' s (state: ' + $service.state + ')'))
        }
        Wait-BpInterval 1
        $waited += 1
    }
}

function Get-BpServiceExitReason([string]$Name) {
    $service = Get-BpService $Name
    if ($null -ne $service -and $service.Contains('exitCode') -and $service.exitCode) { return (' (Win32 error ' + $service.exitCode + ')') }
    return ''
}

# Stop (bounded), start, wait until Running (bounded). Stop-Service / Start-Service would wait forever on a
# service hung in a Pending state; the layer only asks, the module waits.
function Restart-BpServiceAndWait([string]$Name, [int]$TimeoutSeconds) {
    $service = Get-BpService $Name
    if ($service.state -ne 'Stopped') {
        if ($service.state -ne 'Stop Pending') {
            try { Request-BpServiceStop $Name } catch { throw (New-BpError 'SERVICE_STOP_FAILED' ('the service ' + $Name + ' did not accept the stop request: ' + (Get-BpWin32Reason $_.Exception))) }
        }
        Wait-BpServiceState $Name 'Stopped' $TimeoutSeconds 'SERVICE_STOP_TIMEOUT'
    }
    try { Request-BpServiceStart $Name } catch { throw (New-BpError 'SERVICE_START_FAILED' ('the service ' + $Name + ' did not start: ' + (Get-BpWin32Reason $_.Exception))) }
    Wait-BpServiceState $Name 'Running' $TimeoutSeconds 'SERVICE_START_FAILED'
}
